// Sealing across the two implementations, in Chromium (docs/sealed-format.md): Swift seals
// and the browser opens; the browser seals and Swift opens. `spoolrun setup` installs the
// portal app, Tests/Browser/sealed-harness.{html,js} go beside it into D/www/test/, and the
// installation's own nginx serves them under the portal's CSP, so the harness imports
// ../assets/sealed.js: the very file the portal signs in and opens mail with. Headless
// Chromium runs it over http://127.0.0.1, a secure context, where WebCrypto's subtle exists.
// Bytes travel between Swift and the page as unpadded base64url through WebDriver's execute;
// the page answers asynchronously, so every call is polled, with a bound.
import Crypto
import Foundation
import TestSupport
import XCTest

final class SealedInBrowserTests: XCTestCase {
    private var scratch: TemporaryDirectory!
    private var nginx: NginxServer?
    private var browser: WebDriver?
    private var installation = ""
    private var www = ""

    /// What the page said when it refused: a sealed.js error message.
    struct BrowserRefusal: Error, CustomStringConvertible {
        let message: String
        var description: String { "the browser refused: \(message)" }
    }

    /// One place of a mailbox: the associated data of a sealed object.
    struct Place {
        var mailbox: String, message: String, object: String
        var context: SealedFormat.ObjectContext { .init(mailboxID: mailbox, messageID: message, objectName: object) }
        var json: [String: String] { ["mailbox": mailbox, "message": message, "object": object] }
    }

    // MARK: - Setup and teardown

    override func setUpWithError() throws {
        guard WebDriver.chromedriverPath != nil, WebDriver.chromiumPath != nil else {
            throw MissingTool("chromedriver or chromium")
        }
        guard NginxServer.nginxPath != nil else { throw MissingTool("nginx") }
        scratch = try TemporaryDirectory("spoolrun-sealed-browser")
        let d = scratch.file("inst")
        installation = d
        www = d.appending(path: "www")
        let port = try LocalPorts.free()
        try Shell.check(Paths.spoolrun, ["setup", "--dir", d, "--listen", "127.0.0.1:\(port)",
                                         "--recipient-address", "webmail@portal.test",
                                         "--sender-address", "webmail-sender@gateway.test"], timeout: 120)
        let test = www.appending(path: "test")
        try FileManager.default.createDirectory(atPath: test, withIntermediateDirectories: true)
        for name in ["sealed-harness.html", "sealed-harness.js"] {
            try FileManager.default.copyItem(atPath: Paths.repo.appending(path: "Tests/Browser/\(name)"),
                                             toPath: test.appending(path: name))
        }
        // As root, nginx drops to nobody; NginxServer hands the installation over first.
        let server = try NginxServer(root: d, port: port)
        nginx = server
        let b = try WebDriver(downloadDirectory: scratch.file("downloads"))
        browser = b
        try b.navigate(server.base + "/test/sealed-harness.html")
        let ready = try b.poll(attempts: 200, interval: 0.05) {
            try b.execute("return typeof window.sealedHarness === 'object' && document.getElementById('state').textContent")
                as? String == "ready"
        }
        guard ready else {
            let log = (try? b.consoleLog().map(\.message)) ?? []
            throw WebDriverError("the sealed harness did not load within 10 s; console: \(log); \(server.diagnostics())")
        }
    }

    override func tearDown() {
        browser?.quit()
        browser = nil
        nginx?.stop()
        nginx = nil
        scratch = nil
        super.tearDown()
    }

    // MARK: - Talking to the page

    /// Runs one harness operation in the page and waits (at most `seconds`) for its answer.
    /// A sealed.js error comes back as BrowserRefusal; a timeout as WebDriverError.
    @discardableResult
    private func browserCall(_ op: String, _ args: [String: Any] = [:], seconds: Double = 30) throws -> [String: Any] {
        let b = try XCTUnwrap(browser)
        let id = try XCTUnwrap(try b.execute("return window.sealedHarness.start(arguments[0], arguments[1])", [op, args]))
        var answer: [String: Any]?
        let interval = 0.01
        let finished = try b.poll(attempts: Int(seconds / interval), interval: interval) {
            answer = try b.execute("return window.sealedHarness.result(arguments[0])", [id]) as? [String: Any]
            return answer?["done"] as? Bool == true
        }
        guard finished, let answer else { throw WebDriverError("harness \(op) gave no answer within \(seconds) s") }
        guard answer["ok"] as? Bool == true else { throw BrowserRefusal(message: answer["failure"] as? String ?? "\(answer)") }
        return answer["value"] as? [String: Any] ?? [:]
    }

    private func bytes(_ value: Any?, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
        try XCTUnwrap((value as? String).flatMap(Base64URL.decode), "\(what) is base64url", file: file, line: line)
    }

    /// Asserts that `call` is refused by the page with a message containing `reason`.
    private func assertRefused(_ reason: String, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                               _ call: () throws -> Any) {
        do {
            _ = try call()
            XCTFail("\(what): the browser accepted it", file: file, line: line)
        } catch let refusal as BrowserRefusal {
            XCTAssertTrue(refusal.message.contains(reason), "\(what): \(refusal.message)", file: file, line: line)
        } catch {
            XCTFail("\(what): \(error)", file: file, line: line)
        }
    }

    /// Nothing in the page failed or was blocked by the CSP.
    private func assertConsoleClean(file: StaticString = #filePath, line: UInt = #line) throws {
        let problems = try XCTUnwrap(browser).consoleLog()
            .filter { $0.level == "SEVERE" || $0.message.contains("Content Security Policy") }
        XCTAssertEqual(problems.map(\.message), [], "the browser console is clean", file: file, line: line)
    }

    private func loginArgs(_ address: String, _ password: String, _ salt: [UInt8], _ iterations: Int) -> [String: Any] {
        ["address": address, "password": password, "salt": Base64URL.encode(salt), "iterations": iterations]
    }

    private static func randomMailbox() -> String { Hex.encode(SecureRandom.bytes(16)) }

    /// Payloads of the edge sizes (empty, one byte, around one AES block), text with
    /// non-ASCII characters, and about one megabyte of random bytes; each with its own place.
    private static func payloads(mailbox: String) -> [(Place, [UInt8])] {
        let text = Array("Grüße aus Zürich, Привет, Αθήνα, 🔐📎 — line\r\n".utf8)
        let texts = (0..<60).flatMap { _ in text }
        let sizes: [(String, String, [UInt8])] = [
            ("m-empty", "entry", []),
            ("m-one", "body", SecureRandom.bytes(1)),
            ("m-block", "att-1", SecureRandom.bytes(15)),
            ("m-block", "att-2", SecureRandom.bytes(16)),
            ("m-block", "att-3", SecureRandom.bytes(17)),
            ("m-text", "body", texts),
            ("m-large", "eml", SecureRandom.bytes(1_048_576 + 5)),
        ]
        return sizes.map { (Place(mailbox: mailbox, message: $0.0, object: $0.1), $0.2) }
    }

    private func write(_ bytes: [UInt8], under relative: String) throws {
        let path = www.appending(path: relative)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)  // nginx runs as nobody when the tests run as root
    }

    // MARK: - Tests

    /// The known answers of docs/sealed-format-vectors.json, in Chromium with the portal's
    /// sealed.js: the login's locator, the bundle JSON byte for byte (which proves the wrap
    /// key), the bundle unwrapping to a key that opens the sealed object, the object opening
    /// with the recipient's scalar, and a seal with the vectors' ephemeral key and nonce
    /// reproducing the sealed bytes. Chromium's d·G matches the vectors' and OpenSSL's points.
    func testChromiumOpensEveryVectorOfTheSealedFormat() throws {
        let environment = try browserCall("environment")
        XCTAssertEqual(environment["secure"] as? Bool, true, "http://127.0.0.1 is a secure context: \(environment)")
        XCTAssertEqual(environment["subtle"] as? Bool, true, "WebCrypto's subtle is there: \(environment)")
        XCTAssertEqual(environment["module"] as? String, try XCTUnwrap(nginx).base + "/assets/sealed.js")
        // The module is the portal's own file, as setup installed it from the source tree.
        XCTAssertEqual(FileManager.default.contents(atPath: www.appending(path: "assets/sealed.js")),
                       FileManager.default.contents(atPath: Paths.repo.appending(path: "www/assets/sealed.js")))
        XCTAssertTrue(try XCTUnwrap(nginx).logLines("access.log").contains { $0.contains("\"GET /assets/sealed.js HTTP/1.1\" 200") },
                      "Chromium loaded sealed.js from the installation's nginx")

        let data = try XCTUnwrap(FileManager.default.contents(atPath: Paths.repo.appending(path: "docs/sealed-format-vectors.json")))
        let vectors = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let login = try XCTUnwrap(vectors["login"] as? [String: Any])
        let bundle = try XCTUnwrap(vectors["bundle"] as? [String: Any])
        let object = try XCTUnwrap(vectors["object"] as? [String: Any])
        let salt = try bytes(login["installation_salt"], "login.installation_salt")
        let address = try XCTUnwrap(login["address"] as? String), password = try XCTUnwrap(login["password"] as? String)
        let iterations = try XCTUnwrap(login["iterations"] as? Int)
        let logins = loginArgs(address, password, salt, iterations)
        let expectedLocator = try XCTUnwrap(login["locator"] as? String)
        let bundleJSON = try XCTUnwrap(bundle["json"] as? String)
        let recipientHex = try XCTUnwrap(bundle["recipient_private_hex"] as? String)
        let recipientPublic = try XCTUnwrap(bundle["recipient_public"] as? String)
        XCTAssertEqual(object["recipient_private_hex"] as? String, recipientHex, "one recipient throughout the vectors")
        let sealedText = try XCTUnwrap(object["sealed"] as? String)
        let sealed = try bytes(sealedText, "object.sealed")
        let plaintext = try bytes(object["plaintext"], "object.plaintext")
        let contextJSON = try XCTUnwrap(object["context"] as? [String: String])
        let place = Place(mailbox: try XCTUnwrap(contextJSON["mailbox"]), message: try XCTUnwrap(contextJSON["message"]),
                          object: try XCTUnwrap(contextJSON["object"]))
        let ephemeralHex = try XCTUnwrap(object["ephemeral_private_hex"] as? String)
        XCTAssertGreaterThan(sealed.count, 4 + 65 + 12 + 16)

        // d·G in Chromium, in OpenSSL, and in the vectors (Python) agree.
        let recipientPoint = try bytes(try browserCall("publicPoint", ["scalar_hex": recipientHex])["point"], "recipient point")
        XCTAssertEqual(Base64URL.encode(recipientPoint), recipientPublic)
        let ephemeralPoint = try bytes(try browserCall("publicPoint", ["scalar_hex": ephemeralHex])["point"], "ephemeral point")
        XCTAssertEqual(ephemeralPoint, Array(sealed[4..<69]), "the sealed file carries the ephemeral point")
        let ephemeralScalar = try XCTUnwrap(hexBytes(ephemeralHex))
        XCTAssertEqual(try P256KeyPair(privateScalar: ephemeralScalar).publicPoint, ephemeralPoint, "OpenSSL's d·G")

        // Section 3: the login.
        let derived = try browserCall("login", logins, seconds: 60)
        XCTAssertEqual(derived["locator"] as? String, expectedLocator)

        // Section 4: the bundle, written byte for byte, and unwrapped to a key that opens the object.
        var wrap = logins
        wrap["scalar_hex"] = recipientHex
        wrap["point"] = recipientPublic
        wrap["mailbox"] = bundle["mailbox"]
        wrap["nonce"] = bundle["nonce"]
        let wrapped = try browserCall("wrapBundle", wrap, seconds: 60)
        XCTAssertEqual(wrapped["json"] as? String, bundleJSON, "wrapBundle reproduces the vectors' bundle")
        XCTAssertEqual(wrapped["locator"] as? String, expectedLocator)
        var unwrap = logins
        unwrap["bundle_json"] = bundleJSON
        unwrap["sealed"] = sealedText
        unwrap["context"] = place.json
        let unwrapped = try browserCall("unwrapAndOpen", unwrap, seconds: 60)
        XCTAssertEqual(unwrapped["locator"] as? String, expectedLocator)
        XCTAssertEqual(unwrapped["mailbox"] as? String, bundle["mailbox"] as? String)
        XCTAssertEqual(try bytes(unwrapped["opened"], "opened"), plaintext, "the unwrapped key opens the vectors' object")

        // Section 5: the sealed object opens, and sealing again with the same inputs gives its bytes.
        let opened = try browserCall("open", ["sealed": sealedText, "scalar_hex": recipientHex, "point": recipientPublic,
                                              "context": place.json])
        XCTAssertEqual(try bytes(opened["opened"], "opened"), plaintext)
        XCTAssertFalse(String(decoding: plaintext, as: UTF8.self).allSatisfy(\.isASCII), "the vector's text is not ASCII only")
        let resealed = try browserCall("seal", ["plaintext": Base64URL.encode(plaintext), "point": recipientPublic,
                                                "context": place.json, "ephemeral_scalar_hex": ephemeralHex,
                                                "ephemeral_point": Base64URL.encode(ephemeralPoint),
                                                "nonce": try XCTUnwrap(object["nonce"] as? String)])
        XCTAssertEqual(resealed["sealed"] as? String, sealedText, "seal reproduces the vectors' sealed bytes")
        try assertConsoleClean()
    }

    /// Swift (OpenSSL) seals payloads from 0 bytes to about 1 MB, each in its own place, to a
    /// fresh key pair; Chromium opens every one to the same bytes. A key bundle that Swift
    /// wrapped unwraps in Chromium with the login derivation (2,000 iterations) to a key
    /// that opens Swift's object, and only with the right password. Then the portal's whole
    /// path at the production 600,000 iterations: Swift publishes k/<locator>.json and a
    /// sealed m/<mailbox>/<message>/<object> under the installation's www/, and Chromium
    /// derives the locator, fetches both from nginx, unwraps and opens.
    func testSwiftSealsAndChromiumOpens() throws {
        let recipient = try P256KeyPair.generate()
        let mailbox = Self.randomMailbox()
        let point = Base64URL.encode(recipient.publicPoint)
        var seen = Set<[UInt8]>()
        for (place, plaintext) in Self.payloads(mailbox: mailbox) {
            let sealed = try SealedFormat.seal(plaintext, to: recipient.publicKey, context: place.context)
            XCTAssertEqual(sealed.count, 4 + 65 + 12 + plaintext.count + 16)
            XCTAssertTrue(seen.insert(Array(sealed[4..<69])).inserted, "a fresh ephemeral key per object")
            let answer = try browserCall("open", ["sealed": Base64URL.encode(sealed), "scalar_hex": Hex.encode(recipient.privateScalar),
                                                  "point": point, "context": place.json])
            XCTAssertEqual(try bytes(answer["computedPoint"], "computed point"), recipient.publicPoint, "Chromium's d·G is OpenSSL's")
            let opened = try bytes(answer["opened"], "opened")
            XCTAssertEqual(opened.count, plaintext.count, "\(place.message)/\(place.object)")
            XCTAssertTrue(opened == plaintext, "\(place.message)/\(place.object): \(plaintext.count) bytes open to the same bytes")
        }

        // A bundle wrapped in Swift, unwrapped in Chromium.
        let salt = SecureRandom.bytes(32)
        let address = "carol@ext.example", password = "blue-heron-27 Grüße"
        let login = try RecipientLogin.derive(address: address, password: password, installationSalt: salt, iterations: 2000)
        let bundle = try KeyBundle.wrap(recipient, login: login, mailboxID: mailbox)
        let place = Place(mailbox: mailbox, message: "m-bundle", object: "body")
        let plaintext = Array("{\"v\":1,\"subject\":\"Sealed in Swift, opened in Chromium ✓\"}".utf8)
        let sealed = try SealedFormat.seal(plaintext, to: recipient.publicKey, context: place.context)
        var request = loginArgs(address, password, salt, 2000)
        request["bundle_json"] = String(decoding: bundle.json(), as: UTF8.self)
        request["sealed"] = Base64URL.encode(sealed)
        request["context"] = place.json
        let answer = try browserCall("unwrapAndOpen", request)
        XCTAssertEqual(answer["locator"] as? String, login.locator, "both sides name the same bundle file")
        XCTAssertEqual(answer["mailbox"] as? String, mailbox)
        XCTAssertEqual(try bytes(answer["opened"], "opened"), plaintext)
        var wrong = request
        wrong["password"] = "blue-heron-28 Grüße"
        assertRefused("wrong address or password", "a wrong password") { try self.browserCall("unwrapAndOpen", wrong) }
        wrong = request
        wrong["address"] = "dave@ext.example"
        assertRefused("wrong address or password", "another address") { try self.browserCall("unwrapAndOpen", wrong) }

        // The portal's path over nginx, at the production iteration count.
        let production = SealedFormat.loginIterations
        let started = Date()
        let realLogin = try RecipientLogin.derive(address: address, password: password, installationSalt: salt,
                                                  iterations: production)
        let swiftSeconds = Date().timeIntervalSince(started)
        let realBundle = try KeyBundle.wrap(recipient, login: realLogin, mailboxID: mailbox)
        try write(realBundle.json(), under: "k/\(realLogin.locator).json")
        let served = Place(mailbox: mailbox, message: "m-served", object: "att-1")
        let attachment = Array("MARKER-SERVED\n".utf8) + (0..<256).map { UInt8($0) } + SecureRandom.bytes(70_000)
        try write(try SealedFormat.seal(attachment, to: recipient.publicKey, context: served.context),
                  under: "m/\(mailbox)/\(served.message)/\(served.object)")
        var fetch = loginArgs(address, password, salt, production)
        fetch["message"] = served.message
        fetch["object"] = served.object
        let browserStarted = Date()
        let fetched = try browserCall("fetchAndOpen", fetch, seconds: 60)
        let browserSeconds = Date().timeIntervalSince(browserStarted)
        XCTAssertEqual(fetched["locator"] as? String, realLogin.locator)
        XCTAssertEqual(fetched["mailbox"] as? String, mailbox)
        XCTAssertEqual(fetched["type"] as? String, "application/octet-stream")
        XCTAssertEqual(fetched["cacheControl"] as? String, "private, max-age=31536000, immutable")
        XCTAssertTrue(try bytes(fetched["opened"], "opened") == attachment, "the served object opens to the attachment")
        print("SealedInBrowserTests: login at \(production) iterations: Swift \(String(format: "%.2f", swiftSeconds)) s; "
              + "Chromium sign-in, fetch and open \(String(format: "%.2f", browserSeconds)) s")
        try assertConsoleClean()
    }

    /// Chromium seals the same payloads to a Swift key pair; Swift opens every one, and
    /// refuses each under a neighbour's place. A bundle that Chromium wrapped (2,000 and
    /// 600,000 iterations) is read by Swift byte for byte, names the same locator, and
    /// unwraps to the same key pair with the right password only.
    func testChromiumSealsAndSwiftOpens() throws {
        let recipient = try P256KeyPair.generate()
        let mailbox = Self.randomMailbox()
        let point = Base64URL.encode(recipient.publicPoint)
        let payloads = Self.payloads(mailbox: mailbox)
        var seen = Set<[UInt8]>()
        for (index, (place, plaintext)) in payloads.enumerated() {
            let answer = try browserCall("seal", ["plaintext": Base64URL.encode(plaintext), "point": point, "context": place.json])
            let sealed = try bytes(answer["sealed"], "sealed")
            XCTAssertEqual(sealed.count, 4 + 65 + 12 + plaintext.count + 16)
            XCTAssertEqual(Array(sealed.prefix(4)), Array("SPR1".utf8))
            XCTAssertTrue(seen.insert(Array(sealed[4..<69])).inserted, "a fresh ephemeral key per object")
            let opened = try SealedFormat.open(sealed, with: recipient, context: place.context)
            XCTAssertTrue(opened == plaintext, "\(place.message)/\(place.object): \(plaintext.count) bytes open to the same bytes")
            let neighbour = payloads[(index + 1) % payloads.count].0
            XCTAssertThrowsError(try SealedFormat.open(sealed, with: recipient, context: neighbour.context),
                                 "sealed for \(place.message)/\(place.object), refused as \(neighbour.message)/\(neighbour.object)")
        }
        let stranger = try P256KeyPair.generate()
        let place = Place(mailbox: mailbox, message: "m-same", object: "body")
        let first = try bytes(try browserCall("seal", ["plaintext": Base64URL.encode([1, 2, 3]), "point": point,
                                                       "context": place.json])["sealed"], "sealed")
        let second = try bytes(try browserCall("seal", ["plaintext": Base64URL.encode([1, 2, 3]), "point": point,
                                                        "context": place.json])["sealed"], "sealed")
        XCTAssertNotEqual(first, second, "a fresh ephemeral key and nonce each time")
        XCTAssertEqual(try SealedFormat.open(second, with: recipient, context: place.context), [1, 2, 3])
        XCTAssertThrowsError(try SealedFormat.open(first, with: stranger, context: place.context), "another recipient opens nothing")

        // Bundles wrapped in Chromium, read and unwrapped in Swift.
        let salt = SecureRandom.bytes(32)
        let address = "erin@ext.example", password = "correct horse ✓ staple"
        for iterations in [2000, SealedFormat.loginIterations] {
            var request = loginArgs(address, password, salt, iterations)
            request["scalar_hex"] = Hex.encode(recipient.privateScalar)
            request["point"] = point
            request["mailbox"] = mailbox
            let answer = try browserCall("wrapBundle", request, seconds: 60)
            let json = Array(try XCTUnwrap(answer["json"] as? String).utf8)
            let bundle = try KeyBundle(json: json)
            XCTAssertEqual(bundle.json(), json, "Swift writes the bundle Chromium wrote byte for byte (\(iterations))")
            XCTAssertEqual(bundle.mailboxID, mailbox)
            XCTAssertEqual(bundle.publicPoint, recipient.publicPoint)
            let login = try RecipientLogin.derive(address: address, password: password, installationSalt: salt, iterations: iterations)
            XCTAssertEqual(answer["locator"] as? String, login.locator, "both sides name the same bundle file (\(iterations))")
            let pair = try bundle.unwrap(with: login)
            XCTAssertEqual(pair.privateScalar, recipient.privateScalar)
            XCTAssertEqual(pair.publicPoint, recipient.publicPoint)
            XCTAssertEqual(try SealedFormat.open(second, with: pair, context: place.context), [1, 2, 3])
            if iterations == 2000 {
                let wrong = try RecipientLogin.derive(address: address, password: "correct horse ✓ stapler", installationSalt: salt,
                                                      iterations: iterations)
                XCTAssertNotEqual(wrong.locator, login.locator)
                XCTAssertThrowsError(try bundle.unwrap(with: wrong), "a wrong password unwraps nothing")
                var moved = bundle
                moved.mailboxID = Self.randomMailbox()
                XCTAssertThrowsError(try moved.unwrap(with: login), "a bundle under another mailbox id does not open")
            }
        }
        try assertConsoleClean()
    }

    /// Chromium refuses what does not belong where it is asked to open it: a sealed object
    /// under another mailbox, message or object name, and one truncated, extended or
    /// altered, each with sealed.js's own reason; the same bytes open in their own place.
    /// Over nginx, a sealed file copied onto another object's name is refused too, and a
    /// key bundle moved to another mailbox id does not unwrap.
    func testChromiumRefusesASealedObjectUnderAnotherContextOrTruncated() throws {
        let recipient = try P256KeyPair.generate()
        let mailbox = Self.randomMailbox()
        let place = Place(mailbox: mailbox, message: "m-2026-11-25-0001", object: "body")
        let plaintext = Array("{\"v\":1,\"body\":\"<p>Grüße</p>\"}".utf8) + SecureRandom.bytes(300)
        let sealed = try SealedFormat.seal(plaintext, to: recipient.publicKey, context: place.context)
        let key: [String: Any] = ["scalar_hex": Hex.encode(recipient.privateScalar), "point": Base64URL.encode(recipient.publicPoint)]
        func open(_ bytes: [UInt8], _ at: Place) throws -> [UInt8] {
            var args = key
            args["sealed"] = Base64URL.encode(bytes)
            args["context"] = at.json
            return try self.bytes(try browserCall("open", args)["opened"], "opened")
        }

        XCTAssertEqual(try open(sealed, place), plaintext, "in its own place it opens")
        var elsewhere = place
        elsewhere.mailbox = Self.randomMailbox()
        assertRefused("does not open", "another mailbox") { try open(sealed, elsewhere) }
        elsewhere = place
        elsewhere.message = "m-2026-11-25-0002"
        assertRefused("does not open", "another message") { try open(sealed, elsewhere) }
        for name in ["eml", "att-1", "body.json", "entry"] {
            elsewhere = place
            elsewhere.object = name
            assertRefused("does not open", "object name \(name)") { try open(sealed, elsewhere) }
        }

        let header = 4 + 65 + 12
        assertRefused("bad header or truncated", "empty") { try open([], place) }
        assertRefused("bad header or truncated", "one byte short of the shortest file") { try open(Array(sealed.prefix(header + 15)), place) }
        assertRefused("bad header or truncated", "header only") { try open(Array(sealed.prefix(header)), place) }
        assertRefused("does not open", "without its last byte") { try open(Array(sealed.dropLast()), place) }
        assertRefused("does not open", "without its tag") { try open(Array(sealed.prefix(header + 16)), place) }
        assertRefused("does not open", "with a byte appended") { try open(sealed + [0], place) }
        var badMagic = sealed
        badMagic[3] = UInt8(ascii: "2")
        assertRefused("bad header", "magic SPR2") { try open(badMagic, place) }
        for (at, what) in [(header - 1, "nonce"), (header, "ciphertext"), (sealed.count - 1, "tag")] {
            var altered = sealed
            altered[at] ^= 0x01
            assertRefused("does not open", "a flipped bit in the \(what)") { try open(altered, place) }
        }
        let other = try P256KeyPair.generate()
        let forOther = try SealedFormat.seal(plaintext, to: other.publicKey, context: place.context)
        assertRefused("does not open", "sealed for another recipient") { try open(forOther, place) }
        XCTAssertEqual(try open(sealed, place), plaintext, "refusals changed nothing")

        // Over nginx: att-2's file replaced by att-1's (a swap on the server), and the bundle
        // moved to another mailbox id.
        let salt = SecureRandom.bytes(32)
        let address = "bob@ext.example", password = "pw-bob-123"
        let login = try RecipientLogin.derive(address: address, password: password, installationSalt: salt, iterations: 2000)
        try write(try KeyBundle.wrap(recipient, login: login, mailboxID: mailbox).json(), under: "k/\(login.locator).json")
        let first = Place(mailbox: mailbox, message: "m-swap", object: "att-1")
        let firstBytes = try SealedFormat.seal(Array("first".utf8), to: recipient.publicKey, context: first.context)
        try write(firstBytes, under: "m/\(mailbox)/m-swap/att-1")
        try write(firstBytes, under: "m/\(mailbox)/m-swap/att-2")
        var fetch = loginArgs(address, password, salt, 2000)
        fetch["message"] = "m-swap"
        fetch["object"] = "att-1"
        XCTAssertEqual(try bytes(try browserCall("fetchAndOpen", fetch)["opened"], "opened"), Array("first".utf8))
        fetch["object"] = "att-2"
        assertRefused("does not open", "att-1's file served as att-2") { try self.browserCall("fetchAndOpen", fetch) }

        var moved = try KeyBundle.wrap(recipient, login: login, mailboxID: mailbox)
        moved.mailboxID = Self.randomMailbox()
        var unwrap = loginArgs(address, password, salt, 2000)
        unwrap["bundle_json"] = String(decoding: moved.json(), as: UTF8.self)
        unwrap["sealed"] = Base64URL.encode(sealed)
        unwrap["context"] = place.json
        assertRefused("does not open", "a bundle under another mailbox id") { try self.browserCall("unwrapAndOpen", unwrap) }
        try assertConsoleClean()
    }

    private func hexBytes(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let b = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }
}
