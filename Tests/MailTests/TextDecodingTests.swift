// The one charset decoder (Mail/TextDecoding), which the message reader and the sanitizer
// both use, its UTF-8 check, and the one HTML escaper (Mail/HTMLEscape). The label table is
// the union of the two decoders that were (issue 16): no label decodes worse than before.
@testable import Mail
import XCTest

final class TextDecodingTests: XCTestCase {
    func decode(_ bytes: [UInt8], _ charset: String?) -> String { TextDecoding.decode(bytes, charset: charset).text }

    // MARK: Labels

    func testISO88591AndItsAliasesAreReadAsWindows1252SoOutlookQuotesSurvive() {
        for label in ["iso-8859-1", "ISO-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1", "cp819", "ibm819",
                      "iso-ir-100", "windows-1252", "cp1252", "x-cp1252"] {
            let decoded = TextDecoding.decode([0x93, 0x71, 0x94, 0xE9], charset: label)
            XCTAssertEqual(decoded.text, "\u{201C}q\u{201D}é", label)
            XCTAssertNil(decoded.problem, label)
        }
    }

    func testLabelsAreReadWithoutCaseQuotesOrWhiteSpace() {
        for label in ["\"UTF-8\"", "'utf-8'", " utf-8\t", "utf8", "Unicode-1-1-UTF-8"] {
            XCTAssertEqual(decode(Array("café".utf8), label), "café", label)
        }
        XCTAssertEqual(decode([0x63, 0xE9], "\"iso 8859-1\""), "cé")
        XCTAssertTrue(TextDecoding.isKnown(" \"KOI8-R\" "))
    }

    /// The sanitizer's decoder read these labels as the superset senders actually write
    /// (WHATWG Encoding §4.2); each byte pair below exists only in the superset.
    func testLabelsOfASubsetAreReadAsTheSupersetMailProgramsWrite() {
        let cases: [(String, [UInt8], String)] = [
            ("ks_c_5601-1987", [0x81, 0x41], "갂"), ("euc-kr", [0x81, 0x41], "갂"), ("korean", [0x81, 0x41], "갂"),
            ("gb2312", [0x81, 0x40], "丂"), ("gbk", [0x81, 0x40], "丂"), ("x-gbk", [0x81, 0x40], "丂"),
            ("chinese", [0x81, 0x40], "丂"),
            ("shift_jis", [0x87, 0x40], "①"), ("sjis", [0x87, 0x40], "①"), ("x-sjis", [0x87, 0x40], "①"),
            ("ms_kanji", [0x87, 0x40], "①"), ("windows-31j", [0x87, 0x40], "①"),
            ("big5", [0x87, 0x40], "䏰"),
            ("iso-8859-9", [0x80], "€"), ("latin5", [0x80], "€"),
            ("iso-8859-11", [0x80], "€"), ("tis-620", [0x80], "€"),
        ]
        for (label, bytes, expected) in cases {
            let decoded = TextDecoding.decode(bytes, charset: label)
            XCTAssertEqual(decoded.text, expected, label)
            XCTAssertNil(decoded.problem, label)
            XCTAssertTrue(TextDecoding.isKnown(label), label)
        }
    }

    func testAMissingOrUnknownCharsetMeansUTF8IfValidElseWindows1252() {
        let utf8 = Array("café".utf8)
        let latin: [UInt8] = [0x63, 0x61, 0x66, 0xE9]
        for charset in [nil, "", "us-ascii", "ascii", "us", "ansi_x3.4-1968", "x-no-such-charset",
                        "unknown-8bit", "x-unknown", "x-user-defined"] {
            XCTAssertEqual(decode(utf8, charset), "café", charset ?? "nil")
            XCTAssertEqual(decode(latin, charset), "café", charset ?? "nil")
        }
    }

    // MARK: Bad bytes

    func testABadByteBecomesAReplacementCharacterAndTheRestIsKept() {
        XCTAssertEqual(decode([0x82, 0xA0, 0xFF, 0x82, 0xA0, 0x20, 0x65], "Shift_JIS"), "あ\u{FFFD}あ e")
        let utf8 = TextDecoding.decode(Array("caf".utf8) + [0xE9] + Array(" ok".utf8), charset: "utf-8")
        XCTAssertEqual(utf8.text, "caf\u{FFFD} ok")
        XCTAssertEqual(utf8.problem, "bytes that are not valid UTF-8 were replaced")
    }

    func testStatefulCharsetsAreDecoded() {
        XCTAssertEqual(decode([0x1B, 0x24, 0x42, 0x24, 0x22, 0x1B, 0x28, 0x42, 0x20, 0x6F, 0x6B], "ISO-2022-JP"), "あ ok")
    }

    func testTheUTF8CheckRefusesOverlongSurrogateAndCutSequences() {
        XCTAssertTrue(UTF8Check.isValid(Array("aé€😀".utf8)))
        XCTAssertTrue(UTF8Check.isValid([]))
        for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xFF], [0x80]] {
            XCTAssertFalse(UTF8Check.isValid(bad), "\(bad)")
        }
    }

    // MARK: The HTML escaper

    func testTextEscapesMarkupAndAttributesAlsoTheirQuote() {
        XCTAssertEqual(HTMLEscape.text(#"<a href="x">&amp;</a>"#), #"&lt;a href="x"&gt;&amp;amp;&lt;/a&gt;"#)
        XCTAssertEqual(HTMLEscape.attribute(#"</noscript><img title="x">&"#),
                       "&lt;/noscript&gt;&lt;img title=&quot;x&quot;&gt;&amp;")
        var bytes: [UInt8] = []
        Array("é<b>&".utf8).withUnsafeBufferPointer { HTMLEscape.text($0, into: &bytes) }
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "é&lt;b&gt;&amp;")
    }
}
