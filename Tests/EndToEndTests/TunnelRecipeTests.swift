// docs/tunnel.md §7 promises a gateway with only the openssl CLI a working POSIX shell
// recipe. These tests run the recipe exactly as the document prints it.
import Foundation
import XCTest
import TestSupport

final class TunnelRecipeTests: XCTestCase {

    func testTheOpenSSLShellRecipeInDocsTunnelMdProducesAMessageASweepAccepts() throws {
        let inst = try TestInstallation()
        let recipe = try RecipeKit.extractRecipe()
        XCTAssertTrue(recipe.hasPrefix("#!/bin/sh"), "the first ```sh block of docs/tunnel.md should be the recipe")

        let script = inst.scratch.file("tunnel-wrap")
        try recipe.write(toFile: script, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(script, 0o755), 0)

        // A stand-in for sendmail that keeps what it is given.
        let captured = inst.scratch.file("sendmail.msg")
        let capturedArgs = inst.scratch.file("sendmail.args")
        let sendmail = inst.scratch.file("sendmail")
        try """
            #!/bin/sh
            printf '%s\\n' "$@" > '\(capturedArgs)'
            cat >> '\(captured)'

            """.write(toFile: sendmail, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(sendmail, 0o755), 0)

        let gateway = inst.gateway
        let environment = [
            "GATEWAY_KEY": gateway.appending(path: "gateway-sender.key"),
            "GATEWAY_CERT": gateway.appending(path: "gateway-sender.crt"),
            "TUNNEL_CERT": gateway.appending(path: "tunnel-recipient.crt"),
            "WEBMAIL_SENDER": TestInstallation.senderAddress,
            "WEBMAIL_RECIPIENT": TestInstallation.recipientAddress,
            "SENDMAIL": sendmail,
            "TMPDIR": inst.scratch.path,
        ]
        let r = try Shell.run("sh", [script, "alice@corp.test", "bob@ext.test"],
                              stdin: TestInstallation.sampleOriginal, environment: environment, timeout: 60)
        XCTAssertEqual(r.status, 0, "the recipe must succeed: \(r.err)")

        // sendmail -i -f WEBMAIL_SENDER -- WEBMAIL_RECIPIENT
        let args = ((try? String(contentsOfFile: capturedArgs, encoding: .utf8)) ?? "")
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast()
        let argv = Array(args)
        if let f = argv.firstIndex(of: "-f") {
            XCTAssertEqual(argv.indices.contains(f + 1) ? argv[f + 1] : nil, TestInstallation.senderAddress,
                           "sendmail must get -f \(TestInstallation.senderAddress): \(argv)")
        } else {
            XCTFail("sendmail must get -f: \(argv)")
        }
        if let dashes = argv.firstIndex(of: "--") {
            XCTAssertEqual(Array(argv[(dashes + 1)...]), [TestInstallation.recipientAddress],
                           "sendmail must be given the webmail recipient after --: \(argv)")
        } else {
            XCTAssertTrue(argv.contains(TestInstallation.recipientAddress), "sendmail must get the webmail recipient: \(argv)")
        }

        let message = try Data(contentsOf: URL(fileURLWithPath: captured))
        XCTAssertFalse(message.isEmpty, "sendmail got no message")
        let text = String(decoding: message, as: UTF8.self)
        XCTAssertFalse(text.contains("The figures are attached."), "the original must not travel in clear")

        try inst.deliver(message, name: "1700000000.M1P1.gateway")
        let sweep = try inst.sweep()
        XCTAssertEqual(sweep.status, 0, sweep.err)
        XCTAssertEqual(inst.names(in: "archive"), ["1700000000.M1P1.gateway"],
                       "the recipe's message must be accepted; reason: \(inst.reasonCode("1700000000.M1P1.gateway") ?? "-"); stderr: \(sweep.err)")
        XCTAssertEqual(inst.names(in: "failed"), [])
        XCTAssertEqual(try inst.status()["accepted"] as? Int, 1)

        // Nothing of the plaintext stays in the recipe's temporary directory.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: inst.scratch.path)
            .filter { $0.hasPrefix("tmp.") }
        XCTAssertEqual(leftovers, [], "the recipe must remove its work directory")
    }
}

private struct RecipeMissing: Error, CustomStringConvertible {
    var description: String { "docs/tunnel.md has no complete ```sh block" }
}

private enum RecipeKit {
    /// The first fenced block that opens with ```sh in docs/tunnel.md.
    static func extractRecipe() throws -> String {
        let doc = try String(contentsOfFile: Paths.repo.appending(path: "docs/tunnel.md"), encoding: .utf8)
        var lines: [Substring] = []
        var inside = false
        for line in doc.split(separator: "\n", omittingEmptySubsequences: false) {
            if !inside {
                if line.trimmingCharacters(in: .whitespaces) == "```sh" { inside = true }
            } else if line.trimmingCharacters(in: .whitespaces) == "```" {
                return lines.joined(separator: "\n") + "\n"
            } else {
                lines.append(line)
            }
        }
        throw RecipeMissing()
    }
}
