// The PDF's word wrapping and pagination, with a stand-in measuring function (so the
// rules are checked apart from libharu): every line fits its column and carries the width
// measured for exactly its text, no word is lost or reordered, pages stay inside their
// margins and are numbered.
@testable import Render
import TestSupport
import XCTest

final class PDFLayoutTests: XCTestCase {
    /// A proportional stand-in font: "i" and "l" are narrow, "m" and "W" wide, the rest
    /// in between; widths scale with the size.
    static func measure(_ s: String, _ style: PDFTextStyle) -> Double {
        var units = 0.0
        for ch in s {
            switch ch {
            case "i", "l", "j", ".", ",", " ": units += 0.3
            case "m", "w", "M", "W", "Ж", "Ω": units += 0.9
            default: units += 0.55
            }
        }
        return units * style.size
    }

    let layout = PDFLayout(measure: PDFLayoutTests.measure)

    func randomText(words: Int, seed: UInt64) -> String {
        var rng = SeededGenerator(seed: seed)
        let letters = Array("abcdefghijklmnopqrstuvwxyzWMЖΩ")
        var out: [String] = []
        for _ in 0..<words {
            // Mostly short words, now and then one longer than a line.
            let length = rng.next(below: 40) == 0 ? 80 + rng.next(below: 200) : 1 + rng.next(below: 12)
            out.append(String((0..<length).map { _ in letters[rng.next(below: letters.count)] }))
        }
        return out.joined(separator: rng.next(below: 2) == 0 ? " " : "  ")
    }

    func testEveryWrappedLineFitsItsColumnAndCarriesItsOwnMeasuredWidth() {
        for seed in UInt64(1)...20 {
            let pieces = layout.wrap(randomText(words: 300, seed: seed), width: 300, style: .body)
            XCTAssertGreaterThan(pieces.count, 1)
            for (text, width) in pieces {
                XCTAssertLessThanOrEqual(width, 300, text)
                XCTAssertEqual(width, Self.measure(text, .body), text)
            }
        }
    }

    func testWrappingKeepsEveryCharacterOfEveryWordInOrder() {
        for seed in UInt64(1)...20 {
            let text = randomText(words: 200, seed: seed)
            let pieces = layout.wrap(text, width: 250, style: .body).map(\.0)
            // Breaks fall only on spaces (which are dropped) or inside over-long words.
            XCTAssertEqual(pieces.joined().filter { $0 != " " }, text.filter { $0 != " " })
            for piece in pieces {
                XCTAssertFalse(piece.hasPrefix(" "), "a continuation line starts with a space: \(piece)")
                XCTAssertFalse(piece.hasSuffix(" "), "a broken line ends with a space: \(piece)")
            }
        }
    }

    func testALineThatFitsIsKeptWhole() {
        let pieces = layout.wrap("  indented, trailing  ", width: 1000, style: .body)
        XCTAssertEqual(pieces.map(\.0), ["  indented, trailing  "])
    }

    func testAWordWiderThanTheColumnIsBrokenInsideItAndNothingElseIs() {
        let long = String(repeating: "x", count: 100)  // 550 pt at 10 pt
        let pieces = layout.wrap("short \(long) tail", width: 200, style: .body).map(\.0)
        XCTAssertEqual(pieces.first, "short")
        XCTAssertEqual(pieces.last?.hasSuffix(" tail"), true)
        XCTAssertEqual(pieces.joined().filter { $0 == "x" }.count, 100)
        // Each broken piece is as long as fits: adding one more character would not.
        for piece in pieces.dropFirst().dropLast() {
            XCTAssertGreaterThan(Self.measure(piece + "x", .body), 200)
        }
    }

    func testAHugeWordIsBrokenIntoFullLinesWithoutLosingACharacter() {
        var rng = SeededGenerator(seed: 9)
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789+/")
        let blob = String((0..<100_000).map { _ in letters[rng.next(below: letters.count)] })
        let pieces = layout.wrap(blob, width: 400, style: .body)
        XCTAssertEqual(pieces.map(\.0).joined(), blob)
        for (text, width) in pieces {
            XCTAssertLessThanOrEqual(width, 400)
            XCTAssertEqual(width, Self.measure(text, .body))
        }
        // Full lines: only the last may be short.
        XCTAssertLessThan(pieces.count, 100_000 * 6 / 400 + 10)
    }

    func testIndentationStaysOnTheFirstPieceOnly() {
        let pieces = layout.wrap("    quoted text that goes on and on and on and on", width: 100, style: .body).map(\.0)
        XCTAssertTrue(pieces[0].hasPrefix("    quoted"))
        XCTAssertFalse(pieces.dropFirst().contains { $0.hasPrefix(" ") })
    }

    func testEmptyLinesOfTheBodyAreKept() {
        let pages = layout.layout([.text("one\n\n\ntwo", .body)])
        XCTAssertEqual(pages[0].lines.map(\.text), ["one", "", "", "two", "Page 1 of 1"])
    }

    func testLongTextIsPaginatedInsideTheMarginsAndEveryPageIsNumbered() {
        let g = PDFPageGeometry()
        let text = (1...3000).map { "Line \($0) " + randomText(words: 8, seed: UInt64($0)) }.joined(separator: "\n")
        let pages = layout.layout([.fields([("From:", "a@example.com")]), .rule, .text(text, .body)])
        XCTAssertGreaterThan(pages.count, 10)
        for (i, page) in pages.enumerated() {
            let body = page.lines.dropLast()
            XCTAssertFalse(body.isEmpty, "page \(i + 1) has no text")
            for line in body {
                XCTAssertLessThanOrEqual(line.baseline + 0.93 * line.style.size, g.height - g.marginTop + 0.001)
                XCTAssertGreaterThanOrEqual(line.baseline - 0.24 * line.style.size, g.marginBottom)
                XCTAssertLessThanOrEqual(line.x + line.width, g.textRight + 1e-9)
            }
            let footer = page.lines.last!
            XCTAssertEqual(footer.text, "Page \(i + 1) of \(pages.count)")
            XCTAssertLessThan(footer.baseline, g.marginBottom)
        }
        // Lines are in order, none lost: "Line n" appears for every n once.
        let numbered = pages.flatMap(\.lines).map(\.text).filter { $0.hasPrefix("Line ") }
        XCTAssertEqual(numbered.count, 3000)
        XCTAssertEqual(numbered.compactMap { Int($0.split(separator: " ")[1]) }, Array(1...3000))
    }

    func testFieldValuesWrapBesideTheirLabelAndShareTheFirstBaseline() {
        let g = PDFPageGeometry()
        let value = (1...60).map { "recipient\($0)@example.com," }.joined(separator: " ")
        let pages = layout.layout([.fields([("To:", value), ("Subject:", "Hi")])])
        let lines = pages[0].lines
        let label = lines.first { $0.text == "To:" }!
        let values = lines.filter { $0.text.contains("@example.com") }
        XCTAssertGreaterThan(values.count, 3)
        XCTAssertEqual(values[0].baseline, label.baseline)
        let subject = lines.first { $0.text == "Subject:" }!
        XCTAssertLessThan(subject.baseline, values.last!.baseline)
        for v in values {
            XCTAssertGreaterThan(v.x, label.x + Self.measure("Subject:", .label))
            XCTAssertLessThanOrEqual(v.x + v.width, g.textRight + 1e-9)
            XCTAssertLessThanOrEqual(v.width, v.maxWidth)
        }
    }
}
