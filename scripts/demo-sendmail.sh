#!/bin/sh
# The demo's "MTA": keeps each outgoing message as a file instead of sending it, so that the
# demo needs no mail server. Called as: demo-sendmail.sh DIR -i -f FROM -- RCPT...
set -eu
dir="$1"
shift
to=""
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; to="$*"; break ;;
    *) shift ;;
  esac
done
mkdir -p "$dir"
name="$(date +%Y%m%d-%H%M%S)-$$"
cat > "$dir/.$name.tmp"
mv "$dir/.$name.tmp" "$dir/$name-$(printf %s "$to" | tr -c 'A-Za-z0-9@._-' '_').eml"
