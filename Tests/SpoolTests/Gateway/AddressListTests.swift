// gateway.toml's recipient lists (issue 7, direct_recipients and otp_recipients): an address,
// "@domain" or a bare domain for every address there, ".domain" for its subdomains only;
// case does not matter; comments and blank lines are skipped; a line that is none of these is
// an error naming the file and the line, so that a typo never silently routes mail.
import Foundation
@testable import Spool
import TestSupport
import XCTest

final class AddressListTests: XCTestCase {
    func testAnAddressMatchesThatAddressOnlyInAnyCase() throws {
        let list = try AddressList.parse("bob@ext.example\n", file: "list.txt")
        XCTAssertTrue(list.contains("bob@ext.example"))
        XCTAssertTrue(list.contains("Bob@EXT.Example"))
        XCTAssertTrue(list.contains("  bob@ext.example "), "surrounding spaces do not count")
        for other in ["carol@ext.example", "bob@other.example", "bob@sub.ext.example", "ext.example", "bob"] {
            XCTAssertFalse(list.contains(other), other)
        }
    }

    func testAnAtDomainAndABareDomainMatchEveryAddressAtThatDomainButNotItsSubdomains() throws {
        for text in ["@ext.example", "ext.example", "@EXT.Example", "Ext.EXAMPLE"] {
            let list = try AddressList.parse(text, file: "list.txt")
            XCTAssertEqual(list.domains, ["ext.example"], text)
            for address in ["bob@ext.example", "CAROL@Ext.Example", "x.y+z@ext.example"] {
                XCTAssertTrue(list.contains(address), "\(text) must match \(address)")
            }
            for address in ["bob@sub.ext.example", "bob@ext.example.org", "bob@xext.example", "bob@other.example"] {
                XCTAssertFalse(list.contains(address), "\(text) must not match \(address)")
            }
        }
    }

    func testADotDomainMatchesEverySubdomainAtAnyDepthButNotTheDomainItself() throws {
        let list = try AddressList.parse(".ext.example\n", file: "list.txt")
        XCTAssertEqual(list.subdomainsOf, ["ext.example"])
        for address in ["bob@sub.ext.example", "bob@a.b.c.ext.example", "BOB@Sub.EXT.example"] {
            XCTAssertTrue(list.contains(address), address)
        }
        for address in ["bob@ext.example", "bob@xext.example", "bob@sub.ext.example.org", "bob@example"] {
            XCTAssertFalse(list.contains(address), address)
        }
        let upper = try AddressList.parse(".EXT.Example", file: "list.txt")
        XCTAssertTrue(upper.contains("bob@sub.ext.example"), "the entry's case does not matter either")
    }

    func testCommentsBlankLinesAndCRLFLineEndsAreSkipped() throws {
        let text = """
            # who can receive encrypted mail directly

               \t
            bob@ext.example   # Bob has S/MIME
            @partner.example\r
            # carol@ext.example is commented out
            .sub.example # every subdomain
            \r

            """
        let list = try AddressList.parse(text, file: "direct.txt")
        XCTAssertEqual(list.addresses, ["bob@ext.example"])
        XCTAssertEqual(list.domains, ["partner.example"])
        XCTAssertEqual(list.subdomainsOf, ["sub.example"])
        XCTAssertTrue(list.contains("dan@partner.example"))
        XCTAssertFalse(list.contains("carol@ext.example"), "a commented-out line matches nothing")
        XCTAssertTrue(try AddressList.parse("# only a comment\n\n   \n", file: "x").isEmpty)
        XCTAssertTrue(try AddressList.parse("", file: "x").isEmpty)
        XCTAssertFalse(AddressList().contains("bob@ext.example"), "an empty list matches nobody")
    }

    func testAnInvalidLineIsAConfigErrorNamingTheFileAndLine() throws {
        for (text, line) in [("bob@ext.example\nnot an address\n", 2),
                             ("# c\n\n@\n", 3),
                             ("bob@@ext.example", 1),
                             ("ok@ext.example\n@ext.example\n.\n", 3),
                             ("localhost\n", 1),
                             ("@-bad-.example", 1),
                             ("\n\n\nbob@ext..example # typo\n", 4)] {
            XCTAssertThrowsError(try AddressList.parse(text, file: "/etc/spoolrun/direct.txt"), text) { error in
                guard let config = error as? ConfigError else { return XCTFail("\(text): not a ConfigError: \(error)") }
                XCTAssertEqual(config.file, "/etc/spoolrun/direct.txt")
                XCTAssertEqual(config.key, "line \(line)", text)
                let message = "\(error)"
                XCTAssertTrue(message.contains("/etc/spoolrun/direct.txt") && message.contains("line \(line)"), message)
            }
        }
    }

    func testLoadReadsAFileAndAMissingOrNonUTF8FileIsAnErrorNamingIt() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("otp.txt")
        try "Olga@Ext.Example\n.partner.example\n".write(toFile: path, atomically: true, encoding: .utf8)
        let list = try AddressList.load(path: path)
        XCTAssertTrue(list.contains("olga@ext.example"))
        XCTAssertTrue(list.contains("x@eu.partner.example"))

        let bad = dir.file("bad.txt")
        try "ok@ext.example\nnope\n".write(toFile: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AddressList.load(path: bad)) { error in
            XCTAssertEqual((error as? ConfigError)?.key, "line 2")
            XCTAssertTrue("\(error)".contains(bad), "\(error)")
        }
        let missing = dir.file("missing.txt")
        XCTAssertThrowsError(try AddressList.load(path: missing)) { error in
            XCTAssertTrue("\(error)".contains(missing), "\(error)")
        }
        let binary = dir.file("latin1.txt")
        try Data([0x62, 0x6F, 0x62, 0xE9, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: binary))
        XCTAssertThrowsError(try AddressList.load(path: binary)) { error in
            XCTAssertTrue("\(error)".contains(binary), "\(error)")
        }
    }
}
