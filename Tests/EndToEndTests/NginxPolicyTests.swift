// What nginx, run from the config `spoolrun setup` wrote, promises over HTTP (DESIGN §3,
// issue 3 point 7): the key-bundle rate limit, the caching rules (sealed objects immutable
// under their revision, everything else revalidated), MIME types and security headers on
// every kind of file; and deploy/nginx/spoolrun.conf, the production site, serving the same
// over TLS with HSTS and redirecting plain HTTP.
import Foundation
import TestSupport
import XCTest

final class NginxPolicyTests: XCTestCase {
    private var servers: [NginxServer] = []

    override func tearDown() {
        for s in servers { s.stop() }
        servers = []
        super.tearDown()
    }

    /// An installation with one message for bob@ext.test (password known), swept.
    private func installationWithMail(port: Int) throws -> TestInstallation {
        let inst = try TestInstallation(listen: "127.0.0.1:\(port)")
        let original = Data("From: Alice <alice@corp.example>\r\nTo: bob@ext.test\r\nSubject: Caching\r\nMIME-Version: 1.0\r\n\r\nHello.\r\n".utf8)
        try inst.deliver(try inst.wrap(original, arguments: ["--to", "bob@ext.test", "--password", "bob@ext.test=pw-bob-123-nginx"]),
                         name: "cache-1")
        let sweep = try inst.sweep()
        XCTAssertEqual(sweep.status, 0, sweep.err)
        return inst
    }

    private func start(_ root: String, port: Int, scheme: String = "http") throws -> NginxServer {
        let s = try NginxServer(root: root, port: port, scheme: scheme)
        servers.append(s)
        return s
    }

    /// Response headers (lower-cased names) and status of one GET.
    private func head(_ url: String, _ extra: [String] = []) throws -> (status: Int, headers: [String: String]) {
        let r = try Shell.run("curl", ["-s", "-k", "--max-time", "5", "-D", "-", "-o", "/dev/null"] + extra + [url], timeout: 15)
        var status = 0
        var headers: [String: String] = [:]
        for line in r.out.split(separator: "\r\n").map(String.init) {
            if line.hasPrefix("HTTP/") { status = Int(line.split(separator: " ")[1]) ?? 0; headers = [:]; continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers)
    }

    /// Statuses of `count` GETs of `url` made as fast as curl can, over one connection.
    private func burst(_ url: String, count: Int) throws -> [Int] {
        let r = try Shell.run("curl", ["-s", "-k", "--max-time", "20", "-w", "%{http_code}\\n"]
                                  + Array(repeating: ["-o", "/dev/null", url], count: count).flatMap { $0 }, timeout: 30)
        return r.out.split(separator: "\n").compactMap { Int($0) }
    }

    private func files(under dir: String) -> [String] {
        (FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? []).filter {
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: dir.appending(path: $0), isDirectory: &isDir) && !isDir.boolValue
        }
    }

    // MARK: - setup's config

    func testKeyBundleLookupsAreRateLimitedPerClientWhileTheAppIsNot() throws {
        let port = try LocalPorts.free()
        let inst = try TestInstallation(listen: "127.0.0.1:\(port)")
        let server = try start(inst.root, port: port)
        // 30 guesses at once: the first ones are answered (404, no such locator), then 429.
        let guesses = try burst(server.base + "/k/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.json", count: 30)
        XCTAssertEqual(guesses.count, 30)
        XCTAssertEqual(Array(guesses.prefix(5)), Array(repeating: 404, count: 5), "a few look-ups are always answered: \(guesses)")
        XCTAssertGreaterThanOrEqual(guesses.filter { $0 == 429 }.count, 15, "rapid look-ups are refused with 429: \(guesses)")
        XCTAssertEqual(Set(guesses), [404, 429])
        // The app itself is not limited.
        let app = try burst(server.base + "/assets/app.js", count: 30)
        XCTAssertEqual(app, Array(repeating: 200, count: 30))
    }

    func testSealedObjectsAreImmutableWhileAppIndexesAndBundlesRevalidate() throws {
        let port = try LocalPorts.free()
        let inst = try installationWithMail(port: port)
        let www = inst.root.appending(path: "www")
        let server = try start(inst.root, port: port)
        let all = files(under: www)
        let objects = all.filter { $0.hasPrefix("m/") && !$0.hasSuffix("index.json") }
        let indexes = all.filter { $0.hasPrefix("m/") && $0.hasSuffix("/index.json") }
        let bundles = all.filter { $0.hasPrefix("k/") }
        XCTAssertFalse(objects.isEmpty)
        XCTAssertEqual(indexes.count, 1)
        XCTAssertEqual(bundles.count, 1)

        var expectations: [(path: String, cache: String, type: String)] = []
        for o in objects { expectations.append((o + "?r=0123456789abcdef", "private, max-age=31536000, immutable", "application/octet-stream")) }
        for i in indexes { expectations.append((i, "no-cache", "application/json")) }
        for b in bundles { expectations.append((b, "no-cache", "application/json")) }
        expectations += [("", "no-cache", "text/html"), ("index.html", "no-cache", "text/html"),
                         ("assets/app.js", "no-cache", "application/javascript"), ("assets/app.css", "no-cache", "text/css"),
                         ("portal.json", "no-cache", "application/json")]
        for e in expectations {
            let (status, h) = try head(server.base + "/" + e.path)
            XCTAssertEqual(status, 200, e.path)
            XCTAssertEqual(h["cache-control"], e.cache, "Cache-Control of /\(e.path)")
            XCTAssertTrue(h["content-type"]?.hasPrefix(e.type) == true, "Content-Type of /\(e.path): \(h["content-type"] ?? "none")")
            XCTAssertEqual(h["x-content-type-options"], "nosniff", e.path)
            XCTAssertEqual(h["referrer-policy"], "no-referrer", e.path)
            XCTAssertTrue(h["content-security-policy"]?.hasPrefix("default-src 'none'") == true, e.path)
            XCTAssertTrue(h["content-security-policy"]?.contains("frame-ancestors 'none'") == true, e.path)
            XCTAssertNotNil(h["etag"], "/\(e.path) can be revalidated")
        }
        // Revalidation really answers 304 when nothing changed.
        let (_, app) = try head(server.base + "/assets/app.js")
        let etag = try XCTUnwrap(app["etag"])
        XCTAssertEqual(try head(server.base + "/assets/app.js", ["-H", "If-None-Match: \(etag)"]).status, 304)
        // A receipt is never cached.
        let (rStatus, r) = try head(server.base + "/r/some-token-AbCdEfGhIjK")
        XCTAssertEqual(rStatus, 204)
        XCTAssertEqual(r["cache-control"], "no-store")
        XCTAssertEqual(r["x-content-type-options"], "nosniff")
    }

    func testNoDirectoryListingsAndNoDotFilesAnywhereUnderTheWebRoot() throws {
        let port = try LocalPorts.free()
        let inst = try installationWithMail(port: port)
        let www = inst.root.appending(path: "www")
        let mailbox = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: www.appending(path: "m")).first)
        let message = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: www.appending(path: "m/\(mailbox)"))
            .first { !$0.hasSuffix(".json") })
        // Hidden files where a half-written temporary file could sit, in every kind of place.
        let hidden = [".tmp-body", "k/.tmp-bundle.json", "m/\(mailbox)/.tmp-index.json", "m/\(mailbox)/\(message)/.tmp-att-1"]
        for h in hidden { try Data("hidden".utf8).write(to: URL(fileURLWithPath: www.appending(path: h))) }
        let server = try start(inst.root, port: port)
        for h in hidden {
            XCTAssertEqual(try head(server.base + "/" + h).status, 404, "/\(h) must not be served")
        }
        for dir in ["k/", "m/", "m/\(mailbox)/", "m/\(mailbox)/\(message)/", "assets/"] {
            let status = try head(server.base + "/" + dir).status
            XCTAssertTrue([403, 404].contains(status), "/\(dir) must not be listed (got \(status))")
        }
    }

    // MARK: - deploy/nginx/spoolrun.conf

    func testTheProductionSiteServesThePortalOverTLSWithHSTSAndRedirectsPlainHTTP() throws {
        let httpsPort = try LocalPorts.free()
        let inst = try installationWithMail(port: httpsPort)
        let site = try String(contentsOfFile: Paths.repo.appending(path: "deploy/nginx/spoolrun.conf"), encoding: .utf8)
        let scratch = try TemporaryDirectory("spoolrun-tls")
        let d = scratch.file("nginx")
        for sub in ["run", "logs"] {
            try FileManager.default.createDirectory(atPath: d.appending(path: sub), withIntermediateDirectories: true)
        }
        try Shell.check("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                    "-subj", "/CN=portal.example.org", "-days", "2",
                                    "-keyout", d.appending(path: "tls.key"), "-out", d.appending(path: "tls.crt")], timeout: 60)
        var httpPort = try LocalPorts.free()
        while httpPort == httpsPort { httpPort = try LocalPorts.free() }

        // The site as shipped, with only addresses and paths moved into the scratch folder.
        let lines = site.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { !$0.contains("listen [::]") }
        var text = lines.joined(separator: "\n")
        let replacements = [
            "listen 80;": "listen 127.0.0.1:\(httpPort);",
            "listen 443 ssl http2;": "listen 127.0.0.1:\(httpsPort) ssl http2;",
            "/etc/letsencrypt/live/portal.example.org/fullchain.pem": d.appending(path: "tls.crt"),
            "/etc/letsencrypt/live/portal.example.org/privkey.pem": d.appending(path: "tls.key"),
            "/var/lib/spoolrun/www": inst.root.appending(path: "www"),
            "/var/log/spoolrun/receipts.log": d.appending(path: "logs/receipts.log"),
            "/var/log/nginx/spoolrun-access.log": d.appending(path: "logs/access.log"),
        ]
        for (from, to) in replacements {
            XCTAssertTrue(text.contains(from), "deploy/nginx/spoolrun.conf no longer has \(from)")
            text = text.replacingOccurrences(of: from, with: to)
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: d.appending(path: "spoolrun.conf")))
        // What Debian's /etc/nginx/nginx.conf provides around conf.d/*.conf.
        let main = """
            daemon off;
            worker_processes 1;
            pid \(d)/run/nginx.pid;
            error_log \(d)/logs/nginx-error.log warn;
            events { worker_connections 64; }
            http {
                include /etc/nginx/mime.types;
                default_type application/octet-stream;
                client_body_temp_path \(d)/run/body;
                proxy_temp_path \(d)/run/proxy;
                fastcgi_temp_path \(d)/run/fastcgi;
                uwsgi_temp_path \(d)/run/uwsgi;
                scgi_temp_path \(d)/run/scgi;
                include \(d)/spoolrun.conf;
            }

            """
        try Data(main.utf8).write(to: URL(fileURLWithPath: d.appending(path: "nginx.conf")))
        _ = chmod(d.appending(path: "tls.key"), 0o600)

        // As in production, nginx gets the web root to read and nothing else of the installation
        // (its TLS key here too, which Debian's nginx reads as root before dropping privileges).
        let www = [inst.root.appending(path: "www")], tlsKey = [d.appending(path: "tls.key")]
        let check = try NginxServer.configTest(root: d, readable: www, owned: tlsKey)
        XCTAssertEqual(check.status, 0, "nginx -t must accept the production site: \(check.err)")
        let server = try NginxServer(root: d, port: httpsPort, readable: www, owned: tlsKey, scheme: "https")
        servers.append(server)

        let (status, h) = try head(server.base + "/")
        XCTAssertEqual(status, 200)
        XCTAssertEqual(h["strict-transport-security"], "max-age=63072000; includeSubDomains")
        XCTAssertTrue(h["content-security-policy"]?.hasPrefix("default-src 'none'") == true)
        XCTAssertEqual(h["x-content-type-options"], "nosniff")
        XCTAssertEqual(h["referrer-policy"], "no-referrer")
        XCTAssertEqual(h["cache-control"], "no-cache")
        let object = try XCTUnwrap(files(under: inst.root.appending(path: "www")).first { $0.hasSuffix("/body") })
        let (objectStatus, o) = try head(server.base + "/" + object + "?r=0123456789abcdef")
        XCTAssertEqual(objectStatus, 200)
        XCTAssertEqual(o["cache-control"], "private, max-age=31536000, immutable")
        XCTAssertEqual(o["strict-transport-security"], "max-age=63072000; includeSubDomains")
        // Receipts land in the log the sweep reads.
        XCTAssertEqual(try head(server.base + "/r/tls-token-1-AbCdEfGhIj").status, 204)
        var logged = false
        for _ in 0..<50 where !logged {
            logged = ((try? String(contentsOfFile: d.appending(path: "logs/receipts.log"), encoding: .utf8)) ?? "")
                .contains("/r/tls-token-1-AbCdEfGhIj")
            if !logged { usleep(100_000) }
        }
        XCTAssertTrue(logged, "the receipt must be logged")
        // Plain HTTP answers only with a redirect to https.
        let (plainStatus, plain) = try head("http://127.0.0.1:\(httpPort)/index.html")
        XCTAssertEqual(plainStatus, 301)
        XCTAssertEqual(plain["location"], "https://127.0.0.1/index.html")
    }
}
