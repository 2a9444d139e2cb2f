// A tiny W3C WebDriver client for the browser tests: starts chromedriver on a free port of
// 127.0.0.1, opens one headless Chromium session, and speaks plain JSON over HTTP/1.1.
// Every wait is bounded; quit() (also run on deinit) ends the session and chromedriver,
// which takes its Chromium with it.
import Foundation

public struct WebDriverError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public final class WebDriver {
    /// The W3C key under which an element reference travels.
    public static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    public let downloadDirectory: String
    private let process: Process
    private let port: Int
    private var session: String?
    private let profile: TemporaryDirectory

    /// chromedriver and a Chromium to drive, when both are installed.
    public static var chromedriverPath: String? { which("chromedriver") }
    public static var chromiumPath: String? {
        ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"].lazy.compactMap(which).first
    }

    /// Starts chromedriver and a headless Chromium session. `mobileWidth` emulates a phone
    /// screen of that CSS width (Chrome windows cannot be made that narrow on every platform).
    /// `extraArguments` are added to Chromium's command line.
    public init(downloadDirectory: String, width: Int = 1200, height: Int = 900, mobileWidth: Int? = nil,
                extraArguments: [String] = []) throws {
        guard let chromedriver = Self.chromedriverPath else { throw WebDriverError("chromedriver is not installed") }
        self.downloadDirectory = downloadDirectory
        profile = try TemporaryDirectory("spoolrun-chromium")
        port = try LocalPorts.free()
        process = Process()
        process.executableURL = URL(fileURLWithPath: chromedriver)
        // chromedriver listens on the loopback interface only unless told otherwise.
        process.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1", "--log-level=WARNING"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()

        var ready = false
        for _ in 0..<100 {
            if let status = try? request("GET", "/status") as? [String: Any], status["ready"] as? Bool == true {
                ready = true
                break
            }
            if !process.isRunning { break }
            usleep(100_000)
        }
        guard ready else {
            stopDriver()
            throw WebDriverError("chromedriver did not become ready within 10 s")
        }

        var options: [String: Any] = [
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--no-default-browser-check", "--user-data-dir=\(profile.path)",
                     // No calls home in the background: tests watch what the pages fetch.
                     "--disable-background-networking", "--disable-component-update",
                     "--window-size=\(width),\(height)"] + extraArguments,
            "prefs": ["download.default_directory": downloadDirectory, "download.prompt_for_download": false,
                      "download.directory_upgrade": true, "safebrowsing.enabled": false],
        ]
        if let binary = Self.chromiumPath { options["binary"] = binary }
        if let mobileWidth {
            options["mobileEmulation"] = ["deviceMetrics": ["width": mobileWidth, "height": 740, "pixelRatio": 2.0, "touch": true]]
        }
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome", "goog:chromeOptions": options, "goog:loggingPrefs": ["browser": "ALL"],
            "timeouts": ["script": 30_000, "pageLoad": 30_000, "implicit": 0],
        ]]]
        do {
            let value = try request("POST", "/session", capabilities, timeout: 60) as? [String: Any]
            guard let id = value?["sessionId"] as? String else { throw WebDriverError("no session id: \(String(describing: value))") }
            session = id
        } catch {
            stopDriver()
            throw error
        }
    }

    deinit { quit() }

    /// Ends the session and chromedriver. Safe to call twice.
    public func quit() {
        if let id = session {
            session = nil
            _ = try? request("DELETE", "/session/\(id)", timeout: 20)
        }
        stopDriver()
    }

    private func stopDriver() {
        guard process.isRunning else { return }
        // chromedriver leaves its browser running when it is terminated, so a browser that
        // the session's end did not close is ended first, by its process id.
        for pid in Self.children(of: process.processIdentifier) {
            kill(pid, SIGTERM)
            for _ in 0..<100 where kill(pid, 0) == 0 && !Self.isZombie(pid) { usleep(50_000) }
            if kill(pid, 0) == 0 && !Self.isZombie(pid) { kill(pid, SIGKILL) }
        }
        process.terminate()
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The direct children of `parent`, from /proc (Linux; elsewhere none are found).
    static func children(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { stat(of: $0)?.ppid == parent }
    }

    static func isZombie(_ pid: pid_t) -> Bool { stat(of: pid)?.state == "Z" }

    /// State and parent from /proc/PID/stat ("pid (comm) state ppid ..."; comm may hold spaces).
    private static func stat(of pid: pid_t) -> (state: String, ppid: pid_t)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count >= 2, let ppid = pid_t(fields[1]) else { return nil }
        return (String(fields[0]), ppid)
    }

    // MARK: - Commands

    public func navigate(_ url: String) throws { try command("POST", "/url", ["url": url]) }

    /// The first element matching `css`, or nil.
    public func find(_ css: String) throws -> String? { try findAll(css).first }

    public func findAll(_ css: String) throws -> [String] {
        try settle()
        let value = try command("POST", "/elements", ["using": "css selector", "value": css]) as? [[String: Any]] ?? []
        return value.compactMap { $0[Self.elementKey] as? String }
    }

    /// Waits (bounded, 10 s) while a shown part of the page says it is being filled
    /// (`aria-busy`): an element found in a list about to be replaced goes stale.
    private func settle() throws {
        let script = "return [...document.querySelectorAll('[aria-busy=\"true\"]')].some(e => e.getClientRects().length > 0)"
        for _ in 0..<100 {
            guard (try command("POST", "/execute/sync", ["script": script, "args": []]) as? Bool) == true else { return }
            usleep(100_000)
        }
    }

    /// Waits (bounded) for an element matching `css` that is displayed.
    public func waitFor(_ css: String, attempts: Int = 150, interval: TimeInterval = 0.1) throws -> String {
        var found: String?
        let ok = try poll(attempts: attempts, interval: interval) {
            found = try findAll(css).first { (try? displayed($0)) == true }
            return found != nil
        }
        guard ok, let found else { throw WebDriverError("no visible element \(css) after \(Double(attempts) * interval) s") }
        return found
    }

    /// An element as a script argument (it arrives in the page as the DOM element).
    public static func argument(_ element: String) -> [String: String] { [elementKey: element] }

    public func click(_ element: String) throws { try command("POST", "/element/\(element)/click", [:]) }

    public func clear(_ element: String) throws { try command("POST", "/element/\(element)/clear", [:]) }

    public func sendKeys(_ element: String, _ text: String) throws {
        try command("POST", "/element/\(element)/value", ["text": text])
    }

    public func text(_ element: String) throws -> String {
        try command("GET", "/element/\(element)/text") as? String ?? ""
    }

    public func displayed(_ element: String) throws -> Bool {
        try command("GET", "/element/\(element)/displayed") as? Bool ?? false
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns its result.
    @discardableResult
    public func execute(_ script: String, _ args: [Any] = []) throws -> Any? {
        let value = try command("POST", "/execute/sync", ["script": script, "args": args])
        return value is NSNull ? nil : value
    }

    public func setWindowSize(width: Int, height: Int) throws {
        try command("POST", "/window/rect", ["width": width, "height": height])
    }

    public func windowSize() throws -> (width: Int, height: Int) {
        let rect = try command("GET", "/window/rect") as? [String: Any] ?? [:]
        return ((rect["width"] as? NSNumber)?.intValue ?? 0, (rect["height"] as? NSNumber)?.intValue ?? 0)
    }

    /// The browser console since the last call (chromedriver's log endpoint).
    public func consoleLog() throws -> [(level: String, message: String)] {
        let entries = try command("POST", "/se/log", ["type": "browser"]) as? [[String: Any]] ?? []
        return entries.map { ($0["level"] as? String ?? "", $0["message"] as? String ?? "") }
    }

    /// Calls `condition` up to `attempts` times, `interval` apart, until it is true.
    public func poll(attempts: Int = 150, interval: TimeInterval = 0.1, _ condition: () throws -> Bool) throws -> Bool {
        for attempt in 0..<attempts {
            if try condition() { return true }
            if attempt < attempts - 1 { usleep(useconds_t(interval * 1_000_000)) }
        }
        return false
    }

    // MARK: - HTTP

    @discardableResult
    private func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) throws -> Any? {
        guard let id = session else { throw WebDriverError("no session") }
        return try request(method, "/session/\(id)" + path, body)
    }

    private func request(_ method: String, _ path: String, _ body: [String: Any]? = nil, timeout: TimeInterval = 30) throws -> Any? {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let (status, data) = try HTTP.exchange(port: port, method: method, path: path, body: payload, timeout: timeout)
        let json = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any]
        let value = json?["value"]
        // W3C errors come with a 4xx/5xx status; a script's own result may hold an "error" key.
        if status >= 400 {
            let v = value as? [String: Any]
            let message = (v?["message"] as? String).map { String($0.prefix(500)) } ?? ""
            throw WebDriverError("\(method) \(path): HTTP \(status) \(v?["error"] as? String ?? ""): \(message)")
        }
        return value
    }

    static func which(_ name: String) -> String? { Tools.which(name) }
}

/// HTTP/1.1 over a plain socket to 127.0.0.1, one request per connection. Not URLSession:
/// swift-corelibs-foundation's URLSession rejects chromedriver's answers, whose header lines
/// have no space after the colon ("Failed writing header").
enum HTTP {
    #if os(Linux)
    static let noSignal = Int32(MSG_NOSIGNAL)  // a closed peer is an error, not SIGPIPE
    #else
    static let noSignal: Int32 = 0
    #endif

    static func exchange(port: Int, method: String, path: String, body: Data?, timeout: TimeInterval) throws -> (Int, Data) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw WebDriverError("socket() failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw WebDriverError("\(method) \(path): cannot connect to 127.0.0.1:\(port)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nAccept: application/json\r\n"
        if let body { head += "Content-Type: application/json; charset=utf-8\r\nContent-Length: \(body.count)\r\n" }
        else if method == "POST" { head += "Content-Length: 0\r\n" }
        let request = Data((head + "\r\n").utf8) + (body ?? Data())
        try request.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var sent = 0
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, noSignal)
                guard n > 0 else { throw WebDriverError("\(method) \(path): send failed") }
                sent += n
            }
        }
        // Read to the end (the server closes), or to Content-Length once the head is in.
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        let separator = Data("\r\n\r\n".utf8)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 { throw WebDriverError("\(method) \(path): no answer within \(Int(timeout)) s") }
            if n == 0 { break }
            response.append(contentsOf: buffer[0..<n])
            if let end = response.range(of: separator), let length = contentLength(response[..<end.lowerBound]),
               response.count - end.upperBound >= length { break }
        }
        guard let end = response.range(of: separator) else { throw WebDriverError("\(method) \(path): no HTTP answer") }
        let statusLine = String(decoding: response[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw WebDriverError("\(method) \(path): bad status line \(statusLine)") }
        var payload = Data(response[end.upperBound...])
        if let length = contentLength(response[..<end.lowerBound]), payload.count > length { payload = payload.prefix(length) }
        return (status, payload)
    }

    private static func contentLength(_ head: Data) -> Int? {
        for line in String(decoding: head, as: UTF8.self).split(separator: "\r\n") {
            let kv = line.split(separator: ":", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == "content-length" {
                return Int(kv[1].trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }
}

public enum LocalPorts {
    /// A TCP port on 127.0.0.1 that was free a moment ago: bind to port 0, read it, close.
    public static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw WebDriverError("socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw WebDriverError("bind() failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard named == 0 else { throw WebDriverError("getsockname() failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

extension WebDriver {
    /// Fills in the portal's sign-in form and submits it; the caller waits for what should
    /// follow (the inbox, or the error).
    public func submitPortalSignIn(_ address: String, _ password: String) throws {
        let field = try waitFor("#address")
        try clear(field)
        try sendKeys(field, address)
        let secret = try waitFor("#password")
        try clear(secret)
        try sendKeys(secret, password)
        try click(try waitFor("#signin-button"))
    }
}
