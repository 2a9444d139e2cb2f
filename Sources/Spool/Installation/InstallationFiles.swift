// The text of the files `spoolrun setup` writes: spoolrun.toml, the gateway folder's
// gateway.toml and nginx.conf. Kept apart from the wizard's logic so that each can change on its own.
import Foundation

enum InstallationFiles {
    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func portalConfig(root: String, spool: String, www: String, recipient: String, sender: String,
                             portalURL: String) -> String {
        """
        # spoolrun portal configuration, written by `spoolrun setup`.
        # Relative paths are taken from this file's folder. docs/operations.md lists every key.

        [paths]
        spool = \(quoted(spool))
        www = \(quoted(www))
        state = \(quoted(root + "/state"))
        logs = \(quoted(root + "/logs"))

        [tunnel]
        # CipherMail's "Webmail recipient": the address tunnel mail is accepted for.
        recipient_address = \(quoted(recipient))
        # CipherMail's "Webmail sender": the one address the gateway sends tunnel mail from.
        sender_address = \(quoted(sender))
        # Every pair listed here can decrypt (add a new pair first when rotating keys).
        recipient_keys = [{ key = "keys/tunnel-recipient.key", cert = "keys/tunnel-recipient.crt" }]
        # Pinned gateway signing certificates, compared by the SHA-256 of their DER.
        gateway_certs = ["keys/gateway-sender.crt"]
        max_age_days = 7

        [limits]
        max_message_mb = 50

        [portal]
        url = \(quoted(portalURL))
        read_receipts = true
        show_subject = false
        retention_days = 90
        quota_mb = 1024

        [mail]
        # The sender of notifications, password notices and read receipts.
        from = \(quoted(sender))
        from_name = "Secure mail portal"
        # Run as: SENDMAIL -i -f FROM -- RCPT, the message on stdin (Postfix's sendmail, or
        # e.g. "/usr/bin/msmtp -C /etc/spoolrun/msmtprc" for a relay). No shell is involved.
        sendmail = "/usr/sbin/sendmail"
        # A run that takes longer is killed and retried; undelivered mail is marked failed
        # (kept, shown by `spoolrun status`) after give_up_after.
        timeout = "60s"
        give_up_after = "5d"
        # Your own texts: a folder of files named like Sources/Render/Templates/*.mustache.
        # templates = "templates"
        # Seals queued mail at rest (a password notice carries a password). Mode 0600.
        outbox_key = "keys/outbox.key"

        """
    }

    static func gatewayConfig(recipient: String, sender: String, ownKey: Bool) -> String {
        """
        # Gateway side of the tunnel, read by `spoolrun wrap` and `spoolrun gateway filter`.
        # Move this folder to the gateway: its signing key must not stay on the portal host.
        [gateway]
        webmail_recipient = \(quoted(recipient))
        webmail_sender = \(quoted(sender))
        \(ownKey ? "" : "# The pinned certificate was given with --gateway-cert: point these at its key and certificate.\n")sender_key = "gateway-sender.key"
        sender_cert = "gateway-sender.crt"
        recipient_cert = "tunnel-recipient.crt"

        # The webmail settings, for `spoolrun gateway filter` (a Postfix content filter).
        enabled = true
        read_receipt = false                 # true, false or "when-asked" (Disposition-Notification-To)
        only_if_mandatory = true             # false: all mail to recipients without their own encryption goes to webmail
        otp_enabled = false                  # true: OTP-PDF requests go to the portal as protected PDFs
        mandatory = "subject:[secure]"       # or "header:X-Encrypt: mandatory", or "always"
        otp_pdf = "subject:[otp]"            # or "header:X-OTP-PDF: yes"
        # Files of addresses, @domains and .subdomains, one a line (see docs/gateway.md):
        # direct_recipients = "direct-recipients.txt"   # they have their own encryption: pass through
        # otp_recipients = "otp-recipients.txt"         # encrypted mail to them goes as an OTP PDF
        journal = "journal"                  # what the filter has sent, so that a retry sends no part twice
        # postmaster = "postmaster@corp.example"   # gets the notices of delivery reports and read receipts (null sender) sent to webmail
        sendmail = "/usr/sbin/sendmail"

        """
    }

    /// The `http {}` lines the portal's server block relies on: the receipt log's format and
    /// the key-bundle rate limit. deploy/nginx/spoolrun.conf carries the same lines (a test
    /// keeps them in step).
    static let httpDirectives = """
        # Read receipts: the sweep reads this log from where it stopped (one line per read).
        log_format spoolrun_receipt '$time_iso8601 $uri';
        # Requests: paths are locators and ids, never content, so this log holds no plaintext.
        log_format spoolrun_access '$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent';
        # Key-bundle requests without their file name: a locator is derived from address and
        # password, so a log of locators would be a list of password-check values.
        log_format spoolrun_bundle '$remote_addr [$time_iso8601] "$request_method /k/- $server_protocol" $status $body_bytes_sent';
        # Only reads that were answered reach the receipt log (not those refused with 429).
        map $status $spoolrun_receipt_answered {
            204 1;
            default 0;
        }
        # Key bundles are found by a locator that only address + password give: each sign-in
        # attempt costs one look-up, so guessing passwords online is slowed to 10 a minute
        # per client address (after a burst of 10). Behind a proxy, set real_ip first.
        limit_req_zone $binary_remote_addr zone=spoolrun_keys:10m rate=10r/m;
        # Receipts: a reader sends one per message shown; a flood cannot fill the receipt log.
        limit_req_zone $binary_remote_addr zone=spoolrun_receipts:10m rate=60r/m;
        limit_req_status 429;
        """

    /// The portal's locations, for inside a `server {}` block, from the template that the
    /// production site deploy/nginx/spoolrun.conf is made from too
    /// (Templates/portal-locations.conf.in, which explains the locations and its
    /// placeholders). `accessLog` is where the key-bundle requests are logged (without their
    /// locator); each of `extraHeaders` is added to every location that sets headers.
    static func portalLocations(www: String, receiptLog: String, accessLog: String, extraHeaders: [String] = []) -> String {
        let template = String(decoding: PackageResources.portal_locations_conf_in, as: UTF8.self)
        var lines: [String] = []
        for line in template.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " }
            let content = line.dropFirst(indent.count)
            if content.hasPrefix("##") { continue }
            if content == "@EXTRA_HEADERS@" {
                lines += extraHeaders.map { String(indent) + $0 }
                continue
            }
            lines.append(String(line).replacingOccurrences(of: "@WWW@", with: www)
                .replacingOccurrences(of: "@RECEIPT_LOG@", with: receiptLog)
                .replacingOccurrences(of: "@ACCESS_LOG@", with: accessLog))
        }
        if lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    /// A complete nginx config for `nginx -p D -c D/nginx.conf`, run as an unprivileged user
    /// of its own: it writes only D/run (pid, temporary files) and D/logs, and reads D/www.
    static func nginxConfig(root: String, www: String, listen: String) -> String {
        """
        # nginx for the spoolrun portal, written by `spoolrun setup`.
        # Run as nginx's own user (not the one that runs `spoolrun run`), who needs to write
        # \(root)/run and \(root)/logs and to read \(www), nothing else:
        #   nginx -p \(root) -c \(root)/nginx.conf
        # For production behind TLS, see deploy/nginx/spoolrun.conf.
        daemon off;
        worker_processes 1;
        pid \(root)/run/nginx.pid;
        error_log \(root)/logs/nginx-error.log warn;

        events {
            worker_connections 512;
        }

        http {
            include /etc/nginx/mime.types;
            default_type application/octet-stream;
            charset utf-8;
            charset_types application/json text/css application/javascript;
            sendfile on;
            server_tokens off;

            client_body_temp_path \(root)/run/body;
            proxy_temp_path \(root)/run/proxy;
            fastcgi_temp_path \(root)/run/fastcgi;
            uwsgi_temp_path \(root)/run/uwsgi;
            scgi_temp_path \(root)/run/scgi;

        \(indent(httpDirectives, 4))
            access_log \(root)/logs/access.log spoolrun_access;

            server {
                listen \(listen);

        \(indent(portalLocations(www: www, receiptLog: root + "/logs/receipts.log", accessLog: root + "/logs/access.log"), 8))
            }
        }

        """
    }

    static func indent(_ text: String, _ spaces: Int) -> String {
        let pad = String(repeating: " ", count: spaces)
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : pad + $0 }.joined(separator: "\n")
    }
}
