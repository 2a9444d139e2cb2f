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
}
