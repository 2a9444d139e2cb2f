#!/bin/sh
# The demo installation: config, keys and state in demo/ and the gateway's files beside it
# in demo-gateway/ (both git-ignored), over the repo's own spool/ and www/. Wraps the sample
# messages in examples/messages/, runs one sweep and starts nginx on 127.0.0.1:8080 in the
# background.
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
  # run/ since issue 15; state/ in a demo made before.
  for pid in "$DEMO/run/nginx.pid" "$DEMO/state/nginx.pid"; do
    if [ -f "$pid" ]; then
      kill "$(cat "$pid")" 2>/dev/null || true
      rm -f "$pid"
      sleep 0.5
    fi
  done
}

if [ "${1:-}" = "--stop" ]; then stop_nginx; exit 0; fi
BIN="${1:-.build/debug/spoolrun}"

if [ ! -f "$DEMO/spoolrun.toml" ]; then
  "$BIN" setup --dir "$DEMO" --spool "$ROOT/spool" --www "$ROOT/www" \
    --portal-url "http://$LISTEN/" --listen "$LISTEN" --gateway-dir "$DEMO-gateway" \
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
  "$BIN" wrap --config "$DEMO-gateway/gateway.toml" --to "$DEMO_ADDRESS" --read-receipt $mode \
    --password "$DEMO_ADDRESS=$DEMO_PASSWORD" \
    < "$msg" > "spool/tmp/$name"
  mv "spool/tmp/$name" "spool/new/$name"
done

"$BIN" run --config "$DEMO/spoolrun.toml"
echo
"$BIN" status --config "$DEMO/spoolrun.toml"

stop_nginx
# nginx runs as a user of its own, never as root: as root, the demo starts it as 'nobody',
# who gets demo/logs and demo/run and nothing else (keys/, state/ stay out of its reach),
# provided nobody can read this checkout's www/.
AS=""
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$DEMO/run"
  if command -v setpriv >/dev/null && setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$ROOT/www/index.html"; then
    chown -R nobody:nogroup "$DEMO/logs" "$DEMO/run"
    AS="setpriv --reuid=nobody --regid=nogroup --clear-groups"
  else
    echo "note: 'nobody' cannot read $ROOT/www, so the demo's nginx runs as root (never do this for real)" >&2
    AS="env"
    NGINX_USER_ARG="user root;"
  fi
fi
nohup $AS nginx -p "$DEMO" -c "$DEMO/nginx.conf" -g "${NGINX_USER_ARG:-}" > "$DEMO/logs/nginx.out" 2>&1 &
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
