#!/bin/sh
# Installs what spoolrun needs on Debian 12: the C libraries it links, and (with --test)
# the real components the tests start. Uses sudo when not root. Installs only what is
# missing, so a second run is quick and needs no network.
set -eu

BUILD_PKGS="libssl-dev libxml2-dev libhpdf-dev libgmime-3.0-dev libqpdf-dev libsqlite3-dev fonts-dejavu-core pkg-config openssl"
RUN_PKGS="nginx-light curl"
TEST_PKGS="nginx-light qpdf poppler-utils chromium chromium-driver msmtp python3-aiosmtpd python3-pip python3-prometheus-client systemd util-linux logrotate groff-base man-db postfix"

want="$BUILD_PKGS $RUN_PKGS"
case "${1:-}" in
  --test) want="$want $TEST_PKGS" ;;
  # make profile: perf (the tests and make bench do not need it).
  --profile) want="$want $TEST_PKGS linux-perf" ;;
esac

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

# The gateway tests run their own Postfix instance (private config and queue, loopback
# ports); the package's system instance stays unconfigured, so it never starts or listens.
case " $missing " in
  *" postfix "*) echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections ;;
esac

if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--profile" ]; then
  # The portal's JavaScript is tested with Node's built-in test runner (WebCrypto needs 18+).
  if ! command -v node >/dev/null 2>&1; then
    echo "install-deps: installing nodejs"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs
  fi
  # The tests make tunnel messages with Python's cryptography package as an independent
  # implementation; PKCS7EnvelopeBuilder needs version 44 or later (Debian 12 has 38).
  if ! python3 -c 'from cryptography.hazmat.primitives.serialization.pkcs7 import PKCS7EnvelopeBuilder' 2>/dev/null; then
    echo "install-deps: installing Python cryptography from PyPI"
    python3 -m pip install --quiet 'cryptography>=44' 2>/dev/null \
      || python3 -m pip install --quiet --break-system-packages 'cryptography>=44'
  fi
  # make bench's Python peer (bench/python_peer.py) reads CMS with asn1crypto and sanitizes
  # HTML with nh3.
  if ! python3 -c 'import asn1crypto, nh3' 2>/dev/null; then
    echo "install-deps: installing asn1crypto and nh3 from PyPI"
    python3 -m pip install --quiet asn1crypto nh3 2>/dev/null \
      || python3 -m pip install --quiet --break-system-packages asn1crypto nh3
  fi
fi
