#!/bin/sh
# The demo installation: config, keys and state in demo/ (git-ignored), over the repo's
# own spool/ and www/. Wraps the sample messages in examples/messages/, runs one sweep and
# starts nginx on 127.0.0.1:8080 in the background.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEMO="$ROOT/demo"
LISTEN="${SPOOLRUN_DEMO_LISTEN:-127.0.0.1:8080}"
# A demo mailbox's first-contact password, given in the envelope (a fixed, public one:
# this is a demo, not an installation).
DEMO_ADDRESS=bob@ext.example
DEMO_PASSWORD=demo-portal-2026

stop_nginx() {
  if [ -f "$DEMO/state/nginx.pid" ]; then
    kill "$(cat "$DEMO/state/nginx.pid")" 2>/dev/null || true
    rm -f "$DEMO/state/nginx.pid"
    sleep 0.5
  fi
}

if [ "${1:-}" = "--stop" ]; then stop_nginx; exit 0; fi
BIN="${1:-.build/debug/spoolrun}"

if [ ! -f "$DEMO/spoolrun.toml" ]; then
  "$BIN" setup --dir "$DEMO" --spool "$ROOT/spool" --www "$ROOT/www" \
    --portal-url "http://$LISTEN/" --listen "$LISTEN" \
    --recipient-address webmail@portal.example --sender-address webmail-sender@gateway.example
  # No mail server in a demo: outgoing mail (notifications, read receipts) lands in demo/mail/.
  sed -i "s|^sendmail = .*|sendmail = \"/bin/sh $ROOT/scripts/demo-sendmail.sh $DEMO/mail\"|" "$DEMO/spoolrun.toml"
fi

i=0
for msg in examples/messages/*.eml; do
  i=$((i + 1))
  # A Maildir delivery: write into tmp/, then rename into new/.
  name="$(date +%s).demo$i.$$.$(hostname)"
  # A sample named *-otp.eml is sent in OTP mode: mailed as a protected PDF.
  mode=""
  case "$msg" in *-otp.eml) mode="--otp-pdf" ;; esac
  "$BIN" wrap --config "$DEMO/gateway/gateway.toml" --to "$DEMO_ADDRESS" --read-receipt $mode \
    --password "$DEMO_ADDRESS=$DEMO_PASSWORD" \
    < "$msg" > "spool/tmp/$name"
  mv "spool/tmp/$name" "spool/new/$name"
done

"$BIN" run --config "$DEMO/spoolrun.toml"
echo
"$BIN" status --config "$DEMO/spoolrun.toml"

stop_nginx
USER_ARG=""
# nginx started as root drops its workers to 'nobody', who may not read this checkout.
if [ "$(id -u)" = 0 ]; then USER_ARG="user root;"; fi
nohup nginx -p "$DEMO" -c "$DEMO/nginx.conf" -g "$USER_ARG" > "$DEMO/logs/nginx.out" 2>&1 &
sleep 1
if ! curl -fsS -o /dev/null "http://$LISTEN/"; then
  echo "nginx did not start; see $DEMO/logs/nginx-error.log and $DEMO/logs/nginx.out" >&2
  exit 1
fi
cat <<MSG

spoolrun demo is running.
  Portal:   http://$LISTEN/
  Sign-in:  $DEMO_ADDRESS  /  $DEMO_PASSWORD
  Archive:  $ROOT/spool/archive   Quarantine: $ROOT/spool/failed
  Mail out: $DEMO/mail (notifications, and the protected PDF of the OTP sample; read receipts
            after the next sweep: $BIN run --config $DEMO/spoolrun.toml)
  Stop:     make demo-stop
MSG
