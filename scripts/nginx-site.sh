#!/bin/sh
# Prints the production nginx site with its portal locations made from the template that
# `spoolrun setup` compiles in (Sources/Spool/Installation/Templates/portal-locations.conf.in),
# filled in with the packaged paths and HSTS: the block between the site's "spoolrun portal
# locations" begin and end lines is replaced, the rest is kept. `make nginx-site` writes the
# result back to deploy/nginx/spoolrun.conf; `make install` installs it.
#   usage: scripts/nginx-site.sh [SITE [TEMPLATE]]
set -eu

top=$(dirname "$0")/..
site=${1:-$top/deploy/nginx/spoolrun.conf}
template=${2:-$top/Sources/Spool/Installation/Templates/portal-locations.conf.in}
for f in "$site" "$template"; do
	[ -r "$f" ] || { echo "nginx-site.sh: cannot read $f" >&2; exit 1; }
done

# The packaged layout (docs/operations.md): what DeploySiteTests fills the template with too.
www=/var/lib/spoolrun/www
receipt_log=/var/log/spoolrun/receipts.log
access_log=/var/log/nginx/spoolrun-access.log
hsts='add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;'

awk -v template="$template" -v www="$www" -v receipt_log="$receipt_log" -v access_log="$access_log" \
	-v hsts="$hsts" -v site="$site" '
# Plain text replacement (gsub would read & and \ in the value).
function replace(s, from, to,    i, out) {
	out = ""
	while ((i = index(s, from)) > 0) {
		out = out substr(s, 1, i - 1) to
		s = substr(s, i + length(from))
	}
	return out s
}
function locations(indent,    line, lead) {
	while ((getline line < template) > 0) {
		match(line, /^ */)
		lead = substr(line, 1, RLENGTH)
		if (substr(line, RLENGTH + 1, 2) == "##") continue
		if (substr(line, RLENGTH + 1) == "@EXTRA_HEADERS@") line = lead hsts
		line = replace(replace(replace(line, "@WWW@", www), "@RECEIPT_LOG@", receipt_log), "@ACCESS_LOG@", access_log)
		print (line == "" ? "" : indent line)
	}
	close(template)
}
/--- spoolrun portal locations \(begin\) ---/ {
	match($0, /^ */)
	locations(substr($0, 1, RLENGTH))
	inside = 1
	begun = 1
	next
}
/--- spoolrun portal locations \(end\) ---/ { inside = 0; ended = 1; next }
!inside { print }
END {
	if (!begun || !ended || inside) {
		print "nginx-site.sh: " site " has no complete \"spoolrun portal locations\" begin/end block" > "/dev/stderr"
		exit 1
	}
}
' "$site"
