// A text/plain body shown as HTML: nothing in the text can become markup, and URLs become
// links that open like sanitized links do.
import Render
import XCTest

final class PlainTextRendererTests: XCTestCase {
    let open = #"<pre style="white-space: pre-wrap; overflow-wrap: break-word;">"#
    let linkAttributes = #"target="_blank" rel="noopener noreferrer""#

    func testPlainTextIsEscapedAndLinksAreClickable() {
        XCTAssertEqual(PlainTextRenderer.html("1 < 2 & <script>alert(\"x\")</script>\nsee https://example.com/a?b=1&c=2 now"),
                       open + "1 &lt; 2 &amp; &lt;script&gt;alert(\"x\")&lt;/script&gt;\nsee "
                       + #"<a href="https://example.com/a?b=1&amp;c=2" \#(linkAttributes)>https://example.com/a?b=1&amp;c=2</a> now</pre>"#)
        XCTAssertEqual(PlainTextRenderer.html("Write to mailto:someone@example.com or HTTP://EXAMPLE.COM."),
                       open + #"Write to <a href="mailto:someone@example.com" \#(linkAttributes)>mailto:someone@example.com</a> or "#
                       + #"<a href="HTTP://EXAMPLE.COM" \#(linkAttributes)>HTTP://EXAMPLE.COM</a>.</pre>"#)
    }

    func testLineBreaksAndSpacingAreKept() {
        XCTAssertEqual(PlainTextRenderer.html("a\r\n  b\rc\n\n\td"), open + "a\n  b\nc\n\n\td</pre>")
        // The parser would eat one newline right after <pre>; a leading one needs a spare.
        XCTAssertEqual(PlainTextRenderer.html("\ntop"), open + "\n\ntop</pre>")
    }

    func testControlCharactersAreDropped() {
        XCTAssertEqual(PlainTextRenderer.html("a\u{0}b\u{1B}c\u{7F}d"), open + "abcd</pre>")
    }

    func testTrailingPunctuationAndAngleBracketsAreNotPartOfALink() {
        XCTAssertEqual(PlainTextRenderer.html("(see <https://example.com/x>), https://example.com/y."),
                       open + #"(see &lt;<a href="https://example.com/x" \#(linkAttributes)>https://example.com/x</a>&gt;), "#
                       + #"<a href="https://example.com/y" \#(linkAttributes)>https://example.com/y</a>.</pre>"#)
    }

    func testAClosingBracketBelongsToALinkThatOpenedOne() {
        XCTAssertEqual(PlainTextRenderer.html("(https://en.wikipedia.org/wiki/A_(B))"),
                       open + #"(<a href="https://en.wikipedia.org/wiki/A_(B)" \#(linkAttributes)>https://en.wikipedia.org/wiki/A_(B)</a>)</pre>"#)
    }

    func testOnlyHTTPHTTPSAndMailtoAreLinked() {
        XCTAssertEqual(PlainTextRenderer.html("javascript:alert(1) ftp://example.com/ https:// xhttps://example.com"),
                       open + "javascript:alert(1) ftp://example.com/ https:// xhttps://example.com</pre>")
    }

    func testEveryCharacterOfTheTextIsShownOnceWhateverScriptsAndLinksItMixes() {
        // Taking the tags out and the three references back gives the text, with its line
        // ends made LF and controls dropped: nothing lost, doubled or reordered, in any script.
        let pieces = ["https://a.example/x", "(see http://b.example/(y))", "mailto:bob@ext.example", "é", "日本", "x1",
                      " ", "\u{00A0}", "\u{2003}", "\r\n", "\r", "\t", "\u{1}", "&", "<", ">", "\"", ".", "\u{1F600}",
                      "ßhttps://x.example", "https://q.example/ä?b=1&c=<2>"]
        var state: UInt64 = 42
        for _ in 0..<3000 {
            var parts: [String] = []
            for _ in 0..<8 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                parts.append(pieces[Int(state >> 33) % pieces.count])
            }
            let text = parts.joined()
            var html = PlainTextRenderer.html(text)
            html = html.replacingOccurrences(of: #"<a href="[^"]*" [^>]*>"#, with: "", options: .regularExpression)
            html = html.replacingOccurrences(of: "</a>", with: "").replacingOccurrences(of: open, with: "")
                .replacingOccurrences(of: "</pre>", with: "")
            html = html.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&amp;", with: "&")
            let expected = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
                .replacingOccurrences(of: "\u{1}", with: "")
            XCTAssertEqual(html.hasPrefix("\n\n") ? String(html.dropFirst()) : html, expected, text.debugDescription)
        }
    }
}
