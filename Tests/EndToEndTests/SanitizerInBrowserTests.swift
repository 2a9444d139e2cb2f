// The sanitizer's output in a real browser, inside the portal's own body frame: every
// output of the DOMPurify and Closure vectors (shared/corpus/html), under both policies,
// is framed by www/assets/body-frame.js (bodyDocument + bodyFrame, as app.js does it) in a
// harness page that the installation's nginx serves under the portal's CSP headers, in
// headless Chromium. The rule: nothing runs script, and nothing in the frame fetches
// anything from any host, the portal's own included.
//
// Instruments (Tests/Browser/sanitizer-harness.* is the page side):
// - Chromium's own log (CHROME_LOG_FILE; chromedriver starts Chromium with --enable-logging):
//   it records the console of every frame, the sandboxed ones included. chromedriver's
//   browser log does not: the body frame has an opaque origin and runs in another process,
//   whose "Blocked script execution" or CSP refusals never reach it (measured).
// - chromedriver's browser log, for the harness page itself (e.g. a handler in the inert
//   parse of bodyDocument() meeting the page's CSP).
// - nginx's access log: after the harness's own four files, no request at all.
// - A catch-all for every other host: Chromium reads http_proxy/https_proxy from its
//   environment (Linux, no desktop proxy settings), so every request to a host that is not
//   loopback reaches a listener of this test on 127.0.0.1, which records it and refuses it.
//   Chromium's own background services use it too: those few hosts, listed below, are
//   recorded but not held against a fragment unless some fragment names them.
// The fragments are shown in batches; a batch that shows anything is replayed one fragment
// at a time to name the vectors. Controls (unsanitized fragments framed the same way) prove
// that every instrument sees what it is there to see, so the test cannot pass vacuously.
import Foundation
import Render
import TestSupport
import XCTest

final class SanitizerInBrowserTests: XCTestCase {
    /// One fragment the harness frames, as vectors.json carries it.
    struct Fragment: Codable {
        let name: String
        let html: String
    }

    /// The vectors (name and input) that produced a fragment.
    struct Origin {
        let names: [String]
        let input: String
    }

    /// What the instruments recorded while some fragments were shown.
    struct Observation {
        var frameConsole: [String] = []
        var pageConsole: [String] = []
        var access: [String] = []
        var remote: [String] = []
        var notLoaded: [Int] = []

        var isEmpty: Bool {
            frameConsole.isEmpty && pageConsole.isEmpty && access.isEmpty && remote.isEmpty && notLoaded.isEmpty
        }

        var summary: String {
            var parts: [String] = []
            if !frameConsole.isEmpty { parts.append("console (Chromium log): \(frameConsole)") }
            if !pageConsole.isEmpty { parts.append("console (chromedriver): \(pageConsole)") }
            if !access.isEmpty { parts.append("nginx access log: \(access)") }
            if !remote.isEmpty { parts.append("requests to other hosts: \(remote)") }
            if !notLoaded.isEmpty { parts.append("frames that did not load: \(notLoaded)") }
            return parts.joined(separator: "; ")
        }
    }

    static let batchSize = 40
    static let settleMilliseconds = 300
    static let loadTimeoutMilliseconds = 10_000
    /// Batches that showed something are replayed one fragment at a time, at most this many.
    static let maxReplayedBatches = 8

    /// Where Chromium itself goes with no page asking (sign-in, component updates, time,
    /// optimization hints, the default search engine's start page): the hosts seen through
    /// the catch-all while this test was written were accounts.google.com, clients2.google.com,
    /// update.googleapis.com, optimizationguide-pa.googleapis.com and start.duckduckgo.com.
    /// WebDriver cannot pass Chromium the switches that would silence them. A request to one
    /// of these (or a subdomain) is held against no fragment unless some fragment's output or
    /// input names its host; any other host fails the test.
    static let browserServiceDomains = ["google.com", "googleapis.com", "gvt1.com", "gstatic.com", "start.duckduckgo.com"]

    /// The harness's own files: the only requests nginx may see once the browser is up.
    static let harnessRequests: Set<String> = [
        "GET /test/sanitizer-harness.html HTTP/1.1", "GET /test/sanitizer-harness.js HTTP/1.1",
        "GET /assets/body-frame.js HTTP/1.1", "GET /test/vectors.json HTTP/1.1",
    ]

    /// Unsanitized fragments, framed exactly like the outputs, each with what an instrument
    /// must record when it is shown: a script in the sandbox, a refresh, a fetch from the
    /// portal's host and one from elsewhere (both stopped by the CSP, and said so).
    static let controls: [(name: String, html: String, expected: [String])] = [
        ("control: script element", "<p>control</p><script>document.title = 'ran'</script>",
         ["Blocked script execution"]),
        ("control: event handler", "<details open ontoggle=\"document.title = 'ran'\"><summary>s</summary>x</details>",
         ["Blocked script execution"]),
        ("control: refresh", "<meta http-equiv=\"refresh\" content=\"0; url=/test/canary-refresh\">",
         ["refresh"]),
        ("control: image from the portal's host",
         "<img src=\"/test/canary.png\"><div style=\"background-image: url(/test/canary-style.png)\">x</div>",
         ["/test/canary-style.png"]),
        ("control: image from another host", "<div style=\"background-image: url(http://canary.example/style.png)\">x</div>",
         ["http://canary.example/style.png"]),
    ]

    /// Links that fill their frame, for the click controls (a fetch that is made).
    static let ownHostLink = "<a href=\"/test/canary-link\" style=\"display: block; height: 100vh\">own host</a>"
    static let remoteLink = "<a href=\"http://canary.example/link\" style=\"display: block; height: 100vh\">other host</a>"

    static let policy = SanitizerPolicy(resolveContentID: { "att-" + $0 })
    static let remoteImagesPolicy = SanitizerPolicy(allowRemoteImages: true, resolveContentID: { "att-" + $0 })

    private var scratch: TemporaryDirectory!
    private var nginx: NginxServer?
    private var browser: WebDriver?
    private var proxy: CatchAllProxy?
    private var installation = ""
    private var harness = ""
    private var downloads = ""
    private var fragments: [Fragment] = []
    private var origins: [Origin] = []
    private var vectorCount = 0
    private var corpusRange = 0..<0
    private var controlIndex: [String: Int] = [:]
    private var chromeLog = ""
    private var chromeLogOffset: UInt64 = 0
    private var accessLinesSeen = 0
    /// The access log's length when the current browser opened the harness.
    private var harnessStart = 0
    private var proxyRequestsSeen = 0
    private var hostMentions: [String: Bool] = [:]

    // MARK: - Setup and teardown

    override func setUpWithError() throws {
        guard WebDriver.chromedriverPath != nil, WebDriver.chromiumPath != nil else {
            throw MissingTool("chromedriver or chromium")
        }
        guard NginxServer.nginxPath != nil else { throw MissingTool("nginx") }
        scratch = try TemporaryDirectory("spoolrun-sanitizer-browser")
        installation = scratch.file("inst")
        downloads = scratch.file("downloads")
        try FileManager.default.createDirectory(atPath: downloads, withIntermediateDirectories: true)

        let port = try LocalPorts.free()
        try Shell.check(Paths.spoolrun, ["setup", "--dir", installation, "--listen", "127.0.0.1:\(port)",
                                         "--recipient-address", "webmail@portal.test",
                                         "--sender-address", "webmail-sender@gateway.test"], timeout: 120)
        let test = installation.appending(path: "www/test")
        try FileManager.default.createDirectory(atPath: test, withIntermediateDirectories: true)
        for file in ["sanitizer-harness.html", "sanitizer-harness.js"] {
            try FileManager.default.copyItem(atPath: Paths.repo.appending(path: "Tests/Browser/\(file)"),
                                             toPath: test.appending(path: file))
        }
        try buildFragments()
        let data = try JSONEncoder().encode(fragments)
        try data.write(to: URL(fileURLWithPath: test.appending(path: "vectors.json")))

        proxy = try CatchAllProxy()
        let server = try NginxServer(root: installation, port: port)
        nginx = server
        harness = server.base + "/test/sanitizer-harness.html"
    }

    override func tearDown() {
        browser?.quit()
        browser = nil
        nginx?.stop()
        nginx = nil
        proxy?.stop()
        proxy = nil
        scratch = nil
        super.tearDown()
    }

    /// Every vector under both policies, identical outputs framed once; then the controls.
    private func buildFragments() throws {
        var vectors: [(name: String, input: String)] = []
        let dompurify = try Self.loadJSON("dompurify.json")
        for (index, entry) in dompurify.enumerated() {
            vectors.append(("dompurify #\(index) \(entry["title"] as? String ?? "")", try XCTUnwrap(entry["payload"] as? String)))
        }
        let closure = try Self.loadJSON("closure.json")
        for entry in closure {
            vectors.append(("closure \(entry["name"] as? String ?? "?")", try XCTUnwrap(entry["input"] as? String)))
        }
        XCTAssertEqual(dompurify.count, 223, "the whole DOMPurify corpus is read")
        XCTAssertEqual(closure.count, 979, "the whole Closure corpus is read")
        vectorCount = vectors.count

        var byOutput: [String: Int] = [:]
        var names: [[String]] = []
        var inputs: [String] = []
        var outputs: [String] = []
        for vector in vectors {
            for (policy, label) in [(Self.policy, ""), (Self.remoteImagesPolicy, " (remote images allowed)")] {
                let html = HTMLSanitizer.sanitize(Array(vector.input.utf8), charset: "utf-8", policy: policy).html
                if let index = byOutput[html] {
                    names[index].append(vector.name + label)
                } else {
                    byOutput[html] = outputs.count
                    names.append([vector.name + label])
                    inputs.append(vector.input)
                    outputs.append(html)
                }
            }
        }
        fragments = zip(names, outputs).map { Fragment(name: $0.0.joined(separator: " | "), html: $0.1) }
        origins = zip(names, inputs).map { Origin(names: $0.0, input: $0.1) }
        corpusRange = 0..<fragments.count
        for control in Self.controls + [("control: link to the portal's host", Self.ownHostLink, []),
                                        ("control: link to another host", Self.remoteLink, [])] {
            controlIndex[control.0] = fragments.count
            fragments.append(Fragment(name: control.0, html: control.1))
            origins.append(Origin(names: [control.0], input: control.1))
        }
    }

    static func loadJSON(_ file: String) throws -> [[String: Any]] {
        let path = Paths.corpus.appending(path: "html").appending(path: file)
        let data = try XCTUnwrap(FileManager.default.contents(atPath: path), "cannot read \(path)")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    }

    // MARK: - Tests

    func testEverySanitizerOutputInThePortalFrameRunsNoScriptAndFetchesNothing() throws {
        let started = Date()
        _ = try openHarness(logName: "chromium-run.log")

        // The controls first: each instrument sees what it must, one control at a time.
        for control in Self.controls {
            let seen = try observe([controlIndex[control.name]!])
            XCTAssertFalse(seen.isEmpty, "\(control.name): no instrument saw it")
            for expected in control.expected {
                XCTAssertTrue(seen.frameConsole.contains { $0.contains(expected) },
                              "\(control.name): Chromium's log shows \"\(expected)\": \(seen.summary)")
            }
            // The CSP held: what the frame asked for was never requested.
            XCTAssertEqual(seen.access, [], "\(control.name)")
            XCTAssertEqual(seen.remote, [], "\(control.name)")
        }

        // Every output, in batches; a batch that shows anything is replayed fragment by fragment.
        var findings: [(index: Int, seen: Observation)] = []
        var unattributed: [(batch: [Int], seen: Observation)] = []
        var clean: [Int] = []
        var replayed = 0
        let corpus = Array(corpusRange)
        for start in stride(from: 0, to: corpus.count, by: Self.batchSize) {
            let batch = Array(corpus[start..<min(start + Self.batchSize, corpus.count)])
            let seen = try observe(batch)
            if seen.isEmpty {
                clean += batch
                continue
            }
            guard replayed < Self.maxReplayedBatches else {
                unattributed.append((batch, seen))
                continue
            }
            replayed += 1
            let alone = try attribute(batch)
            findings += alone
            if alone.isEmpty { unattributed.append((batch, seen)) }
        }
        for finding in findings {
            XCTFail("\(describe(finding.index)) -> in the portal's frame: \(finding.seen.summary)")
        }
        for (batch, seen) in unattributed {
            XCTFail("a batch showed \(seen.summary), not attributed to one fragment; batch: "
                    + batch.map { fragments[$0].name }.joined(separator: "; "))
        }

        // The replay names exactly the fragments that misbehave: the controls mixed with
        // outputs that showed nothing are found again, and only they.
        let controls = Self.controls.map { controlIndex[$0.name]! }
        let mixed = Array(clean.prefix(3)) + controls
        XCTAssertEqual(Set(try attribute(mixed).map(\.index)), Set(controls),
                       "after the run, the controls (and only they) are seen among clean outputs")

        // nginx saw the harness's own files and nothing else, over the whole run.
        let requests = nginxRequests(since: harnessStart)
        XCTAssertEqual(Set(requests.map(\.line)), Self.harnessRequests, "every request nginx logged: \(requests)")
        XCTAssertEqual(requests.filter { $0.status != "200" }.map(\.line), [], "\(requests)")
        XCTAssertEqual(requests.count, Self.harnessRequests.count, "each harness file once: \(requests)")

        // No request for another host that is not the browser's own business.
        let all = proxy?.requests() ?? []
        XCTAssertEqual(all.filter(isHeldAgainstFragments).map(\.line), [], "requests to other hosts")
        let own = all.filter { !isHeldAgainstFragments($0) }.map(\.host)
        let outputs = fragments[corpusRange]
        let remote = outputs.filter { $0.html.range(of: "(https?:)?//[a-z0-9]", options: [.regularExpression, .caseInsensitive]) != nil }
        print("""
            Sanitizer outputs in the portal's frame: \(vectorCount) vectors, \(corpusRange.count) distinct outputs \
            (both policies; \(outputs.filter { $0.html.isEmpty }.count) empty, \(remote.count) naming another host) \
            in \((corpusRange.count + Self.batchSize - 1) / Self.batchSize) batches, \
            \(replayed) replayed, \(String(format: "%.1f", Date().timeIntervalSince(started))) s; \
            Chromium's own requests through the catch-all: \(own.count) (\(Set(own).sorted().joined(separator: ", "))), \
            connections without a request: \(proxy?.silentConnections() ?? 0)
            """)
    }

    /// A link in the frame, clicked, is a fetch that is made: nginx's access log and the
    /// catch-all each record one from inside a frame built like the others. (One click per
    /// browser: the new tab it opens takes the focus from the harness.)
    func testALinkClickedInThePortalFrameIsSeenByTheAccessLogAndTheCatchAll() throws {
        let own = try click(controlIndex["control: link to the portal's host"]!, logName: "chromium-own.log")
        XCTAssertTrue(try own.poll(attempts: 100) {
            nginxRequests(since: harnessStart).contains { $0.line == "GET /test/canary-link HTTP/1.1" }
        }, "nginx logged the link's request: \(nginxRequests(since: harnessStart))")
        own.quit()
        browser = nil

        _ = try click(controlIndex["control: link to another host"]!, logName: "chromium-remote.log")
        let catchAll = try XCTUnwrap(proxy)
        XCTAssertTrue(try browser!.poll(attempts: 100) {
            catchAll.requests().contains { $0.line == "GET http://canary.example/link HTTP/1.1" }
        }, "the catch-all saw the link's request: \(catchAll.requests().map(\.line))")
        let held = catchAll.requests().filter(isHeldAgainstFragments)
        XCTAssertEqual(Set(held.map(\.host)), ["canary.example"], "and is held against the fragments: \(held)")
    }

    // MARK: - Driving the harness

    /// Starts Chromium with the catch-all as its proxy and its log in the scratch folder,
    /// opens the harness and loads vectors.json.
    private func openHarness(logName: String) throws -> WebDriver {
        browser?.quit()
        let catchAll = try XCTUnwrap(proxy)
        chromeLog = scratch.file(logName)
        chromeLogOffset = 0
        let proxyURL = "http://127.0.0.1:\(catchAll.port)"
        harnessStart = nginx?.logLines("access.log").count ?? 0
        let b = try Self.withEnvironment([
            "http_proxy": proxyURL, "https_proxy": proxyURL, "HTTP_PROXY": proxyURL, "HTTPS_PROXY": proxyURL,
            "all_proxy": nil, "ALL_PROXY": nil, "no_proxy": nil, "NO_PROXY": nil, "CHROME_LOG_FILE": chromeLog,
        ]) { try WebDriver(downloadDirectory: downloads) }
        browser = b
        try b.navigate(harness)
        XCTAssertTrue(try b.poll { try b.execute("return typeof window.harness") as? String == "object" }, "the harness starts")
        let count = try b.execute("return window.harness.load()") as? Int
        XCTAssertEqual(count, fragments.count, "the harness read vectors.json")
        XCTAssertEqual(try b.execute("return document.visibilityState") as? String, "visible")
        XCTAssertTrue(FileManager.default.fileExists(atPath: chromeLog), "Chromium writes its log to CHROME_LOG_FILE")
        _ = try b.consoleLog()
        _ = newConsoleEntries()
        proxyRequestsSeen = catchAll.requests().count
        let loaded = nginxRequests(since: harnessStart)
        XCTAssertEqual(Set(loaded.map(\.line)), Self.harnessRequests, "the harness loaded: \(loaded)")
        accessLinesSeen = nginx?.logLines("access.log").count ?? 0
        return b
    }

    /// Shows `indices` in the harness and returns what every instrument recorded meanwhile.
    private func observe(_ indices: [Int]) throws -> Observation {
        let b = try XCTUnwrap(browser)
        let value = try b.execute("return window.harness.run(arguments[0], arguments[1], arguments[2])",
                                  [indices, Self.settleMilliseconds, Self.loadTimeoutMilliseconds])
        var seen = Observation()
        seen.notLoaded = (value as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.intValue }
        seen.frameConsole = newConsoleEntries()
        seen.pageConsole = try b.consoleLog().map { "\($0.level) \($0.message)" }
        let lines = nginx?.logLines("access.log") ?? []
        seen.access = Array(lines.dropFirst(accessLinesSeen))
        accessLinesSeen = lines.count
        let requests = proxy?.requests() ?? []
        seen.remote = requests.dropFirst(proxyRequestsSeen).filter(isHeldAgainstFragments).map(\.line)
        proxyRequestsSeen = requests.count
        return seen
    }

    /// Each of `indices` alone: those for which some instrument recorded something.
    private func attribute(_ indices: [Int]) throws -> [(index: Int, seen: Observation)] {
        try indices.compactMap { index in
            let seen = try observe([index])
            return seen.isEmpty ? nil : (index, seen)
        }
    }

    /// Opens a new browser on the harness, shows one fragment large and clicks the frame
    /// (WebDriver clicks the middle of the iframe element, i.e. the link that fills it).
    private func click(_ index: Int, logName: String) throws -> WebDriver {
        let b = try openHarness(logName: logName)
        XCTAssertEqual(try b.execute("return window.harness.show(arguments[0], arguments[1])",
                                     [index, Self.loadTimeoutMilliseconds]) as? Bool, true, "the frame loads")
        let frame = try b.waitFor("#frames iframe")
        try b.click(frame)
        return b
    }

    private func describe(_ index: Int) -> String {
        let origin = origins[index]
        return "\(origin.names.joined(separator: " | ")): input \(origin.input.prefix(400).debugDescription) "
            + "output \(fragments[index].html.prefix(600).debugDescription)"
    }

    // MARK: - Instruments

    /// Console messages Chromium logged since the last call ("[pid:tid:time:INFO:CONSOLE:line]
    /// "message", source: url (line)"); a message may continue on following lines.
    private func newConsoleEntries() -> [String] {
        guard let handle = FileHandle(forReadingAtPath: chromeLog) else { return [] }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: chromeLogOffset)) != nil,
              let data = try? handle.readToEnd(), let end = data.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = data[data.startIndex...end]
        chromeLogOffset += UInt64(complete.count)
        var entries: [String] = []
        var inConsole = false
        for line in String(decoding: complete, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.range(of: #"^\[[0-9]+:[0-9]+:"#, options: .regularExpression) != nil {
                let head = line.prefix { $0 != "]" }
                inConsole = head.contains(":CONSOLE")
                if inConsole { entries.append(String(line)) }
            } else if inConsole, !line.isEmpty {
                entries[entries.count - 1] += "\n" + line
            }
        }
        return entries
    }

    /// nginx's access log from line `start` on: request line and status of each entry.
    private func nginxRequests(since start: Int) -> [(line: String, status: String)] {
        (nginx?.logLines("access.log") ?? []).dropFirst(start).map { entry in
            // $remote_addr [$time_iso8601] "$request" $status $body_bytes_sent
            let parts = entry.split(separator: "\"")
            guard parts.count >= 3 else { return (entry, "?") }
            let tail = parts[parts.count - 1].split(separator: " ")
            return (parts[1...(parts.count - 2)].joined(separator: "\""), tail.first.map(String.init) ?? "?")
        }
    }

    /// A request through the catch-all counts against the fragments unless it goes to one of
    /// the browser's own service domains and no fragment names its host.
    private func isHeldAgainstFragments(_ request: CatchAllProxy.Request) -> Bool {
        let host = request.host
        guard Self.browserServiceDomains.contains(where: { host == $0 || host.hasSuffix("." + $0) }) else { return true }
        if let known = hostMentions[host] { return known }
        let named = fragments.indices.contains {
            fragments[$0].html.lowercased().contains(host) || origins[$0].input.lowercased().contains(host)
        }
        hostMentions[host] = named
        return named
    }

    /// Runs `body` with the environment changed as given (nil removes a variable), then puts
    /// it back. Processes started meanwhile (chromedriver, and the Chromium it starts) keep it.
    static func withEnvironment<T>(_ values: [String: String?], _ body: () throws -> T) rethrows -> T {
        let saved = values.keys.map { ($0, getenv($0).map { String(cString: $0) }) }
        for (name, value) in values {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
        defer {
            for (name, value) in saved {
                if let value { setenv(name, value, 1) } else { unsetenv(name) }
            }
        }
        return try body()
    }
}

/// A listener on 127.0.0.1 that Chromium uses as its HTTP proxy for every host that is not
/// loopback: it records each request's first line and host, then refuses it (404, or 403 to
/// a CONNECT). One connection at a time, each read bounded by a 1 s timeout; stop() ends it.
final class CatchAllProxy: @unchecked Sendable {
    struct Request: CustomStringConvertible {
        let line: String
        let host: String
        var description: String { line }
    }

    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var recorded: [Request] = []
    private var silent = 0
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw WebDriverError("catch-all: socket() failed") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, named == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw WebDriverError("catch-all: cannot listen on 127.0.0.1")
        }
        listener = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread { [self] in serve() }.start()
    }

    func requests() -> [Request] { lock.withLock { recorded } }

    func silentConnections() -> Int { lock.withLock { silent } }

    func stop() {
        let running = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        if running { _ = finished.wait(timeout: .now() + 5) }
    }

    private func serve() {
        defer {
            close(listener)
            finished.signal()
        }
        while !lock.withLock({ stopping }) {
            var pending = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pending, 1, 100) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while head.count < 16_384, head.range(of: Data("\r\n\r\n".utf8)) == nil {
            let n = recv(connection, &buffer, buffer.count, 0)
            if n <= 0 { break }
            head.append(contentsOf: buffer[0..<n])
        }
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        guard let line = lines.first, !line.isEmpty else {
            lock.withLock { silent += 1 }
            return
        }
        let request = Request(line: line, host: Self.host(of: line, headers: lines.dropFirst()))
        lock.withLock { recorded.append(request) }
        let answer = line.hasPrefix("CONNECT ") ? "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
            : "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        // MSG_NOSIGNAL: a browser that has gone away is no SIGPIPE for the test process.
        _ = answer.utf8CString.withUnsafeBufferPointer { send(connection, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
    }

    /// The host a proxied request is for: CONNECT's authority, an absolute URL's host, or Host.
    static func host(of line: String, headers: ArraySlice<String>) -> String {
        let parts = line.split(separator: " ")
        var authority = ""
        if parts.count >= 2 {
            let target = String(parts[1])
            if parts[0] == "CONNECT" {
                authority = target
            } else if let range = target.range(of: "://") {
                authority = String(target[range.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" })
            }
        }
        if authority.isEmpty, let header = headers.first(where: { $0.lowercased().hasPrefix("host:") }) {
            authority = header.dropFirst(5).trimmingCharacters(in: .whitespaces)
        }
        if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close]).lowercased()
        }
        return String(authority.prefix { $0 != ":" }).lowercased()
    }
}
