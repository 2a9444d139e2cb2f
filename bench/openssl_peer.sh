#!/bin/bash
# A reference peer for `make bench`: the pipeline a shell-script administrator would write
# with the openssl CLI, one message at a time: decrypt, then verify the detached signature
# against the pinned gateway certificate only (-nointern -certfile, like CMS_NOINTERN; the
# certificate is self-signed, so it is also the trust anchor), content to a file.
# It does less than a spoolrun sweep: nothing is parsed, sanitized, sealed or recorded.
# Usage: openssl_peer.sh KEY CERT PINNED_CERT OUT_DIR FILE...   (exits 1 naming a bad file)
set -euo pipefail
key=$1 cert=$2 pinned=$3 out=$4
shift 4
for f in "$@"; do
  if ! openssl cms -decrypt -binary -in "$f" -recip "$cert" -inkey "$key" \
       | openssl cms -verify -binary -nointern -certfile "$pinned" -CAfile "$pinned" -purpose any \
           -out "$out/$(basename "$f").payload" 2>/dev/null; then
    echo "openssl_peer: $f: does not decrypt or verify" >&2
    exit 1
  fi
done
