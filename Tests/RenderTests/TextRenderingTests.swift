// The text rendering of an HTML body (for the PDF): structure kept as lines, lists and
// quotes marked, links written out, nothing the sanitizer would hide shown.
import Render
import XCTest

final class TextRenderingTests: XCTestCase {
    func text(_ html: String) -> String {
        HTMLSanitizer.textRendering(Array(html.utf8), charset: "utf-8")
    }

    func testTextRenderingKeepsParagraphsListsAndLinks() {
        let html = """
            <p>Hello   Anna,</p><p>the agenda:</p>
            <ul><li>one</li><li>two<ol start="3"><li>three</li><li>four</li></ol></li></ul>
            <p>See <a href="https://example.com/agenda">the agenda</a> or <a href="https://example.com/">https://example.com/</a>,
            or write to <a href="mailto:anna@example.com">anna@example.com</a>.</p>
            <div>Best,<br>Ben</div>
            """
        XCTAssertEqual(text(html), """
            Hello Anna,

            the agenda:

            • one
            • two
              3. three
              4. four

            See the agenda (https://example.com/agenda) or https://example.com/, or write to anna@example.com.

            Best,
            Ben
            """)
    }

    func testTextRenderingDropsScriptsStylesAndHiddenMarkup() {
        XCTAssertEqual(text("<head><title>T</title><style>p{}</style></head><body><script>x()</script><p>shown<!-- hidden --></p><svg><text>no</text></svg></body>"),
                       "shown")
    }

    func testTextRenderingWritesUnsafeLinksAsTextOnly() {
        XCTAssertEqual(text(#"<a href="javascript:alert(1)">click</a> and <a href="/relative">here</a>"#), "click and here")
    }

    func testTextRenderingMarksQuotedText() {
        XCTAssertEqual(text("<p>Yes.</p><blockquote type=\"cite\"><p>Can you come?</p><p>Anna</p></blockquote>"),
                       "Yes.\n\n> Can you come?\n>\n> Anna")
    }

    func testTextRenderingKeepsPreformattedText() {
        XCTAssertEqual(text("<p>code:</p><pre>a  b\n  c</pre>"), "code:\n\na  b\n  c")
    }

    func testTextRenderingPutsTableRowsOnLinesAndUsesImageAltText() {
        XCTAssertEqual(text(#"<table><tr><td>Name</td><td>Anna</td></tr><tr><td><a href="https://shop.example/"><img src="https://x.example/b.png" alt="Shop now"></a></td></tr></table>"#),
                       "Name Anna\nShop now (https://shop.example/)")
    }
}
