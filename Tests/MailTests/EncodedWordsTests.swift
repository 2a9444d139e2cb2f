// RFC 2047 encoded words read and written by spoolrun itself (Mail/EncodedWords): Debian 12's
// GMime 3.2.13 decodes adjacent base64 words as one stream, so a padded first word cut the
// subject short (jstedfast/gmime#133). These are the rules a subject is read by, in the
// portal and in the gateway filter.
import Mail
import XCTest

final class EncodedWordsTests: XCTestCase {
    func testEachPaddedBase64WordIsDecodedOnItsOwnAndNothingIsCutShort() {
        XCTAssertEqual(EncodedWords.decode("=?UTF-8?B?w5Y=?= =?UTF-8?B?w5Y=?="), "ÖÖ")
        XCTAssertEqual(EncodedWords.decode("=?UTF-8?B?0J/RgNC40LLQtdGCIQ==?= =?UTF-8?B?IFtzZWN1cmVdIA==?="), "Привет! [secure] ")
    }

    func testACharacterSplitAcrossTwoWordsComesOutWhole() {
        // "Ö" is C3 96: the first word ends after C3, the second starts with 96.
        XCTAssertEqual(EncodedWords.decode("=?utf-8?q?a=C3?= =?utf-8?q?=96b?="), "aÖb")
    }

    func testWhiteSpaceBetweenEncodedWordsGoesAndWhiteSpaceNextToTextStays() {
        XCTAssertEqual(EncodedWords.decode("=?utf-8?q?a?=  \t =?utf-8?q?b?="), "ab")
        XCTAssertEqual(EncodedWords.decode("Re: =?utf-8?q?Gr=C3=BC=C3=9Fe?= und mehr"), "Re: Grüße und mehr")
        XCTAssertEqual(EncodedWords.decode("=?utf-8?q?a_b?="), "a b", "an underscore is a space in Q")
    }

    func testWordsInDifferentCharsetsAreEachConverted() {
        XCTAssertEqual(EncodedWords.decode("=?iso-8859-1?q?M=E4rz?= =?utf-8?b?0JzQsNGA0YI=?="), "MärzМарт")
        XCTAssertEqual(EncodedWords.decode("=?UTF-8*de?Q?Gr=C3=BC=C3=9Fe?="), "Grüße", "an RFC 2231 language is ignored")
    }

    func testAMalformedWordStaysAsWritten() {
        for text in ["=?utf-8?x?abc?=", "=?utf-8?q?=ZZ?=", "=?utf-8?q?no end", "=??q?x?=", "plain text", "a =? b ?= c"] {
            XCTAssertEqual(EncodedWords.decode(text), text)
        }
    }

    func testEncodedTextDecodesBackWhateverItHolds() {
        let long = String(repeating: "Квартальный отчёт за третий квартал ", count: 4) + "=?utf-8?q?x?= _ ? = end"
        for text in ["Grüße", long, "日本語のテキスト", "a_b c?d=e", ""] {
            let encoded = EncodedWords.encode(text)
            for word in encoded.split(separator: " ") {
                XCTAssertLessThanOrEqual(word.count, 75, "an encoded word is at most 75 characters")
                XCTAssertTrue(word.allSatisfy { $0.isASCII && !$0.isWhitespace }, String(word))
            }
            XCTAssertEqual(EncodedWords.decode(encoded), text)
        }
    }

    func testThePortalReadsASubjectOfSeveralPaddedBase64WordsWhole() throws {
        let raw = "From: a@corp.example\r\nTo: b@ext.example\r\n"
            + "Subject: =?UTF-8?B?0J/RgNC40LLQtdGCIQ==?=\r\n =?UTF-8?B?IFtzZWN1cmVdIA==?=\r\n =?UTF-8?B?w5Y=?=\r\n\r\nbody\r\n"
        XCTAssertEqual(try MessageParser.parse(Array(raw.utf8)).subject, "Привет! [secure] Ö")
    }
}
