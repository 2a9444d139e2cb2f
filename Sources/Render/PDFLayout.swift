// Word wrapping and pagination for the OTP-mode PDF, in plain Swift: it knows nothing of
// libharu and asks a measuring function (the writer's, backed by HPDF_Font_TextWidth) how
// wide a string is. Every line it places has been measured as the exact string that will be
// drawn, and fits its column; the tests inspect this directly.

enum PDFFace: Sendable, Hashable {
    case regular, bold
}

struct PDFTextStyle: Sendable, Hashable {
    var face: PDFFace
    /// Font size in points.
    var size: Double
    /// Distance from one line's top to the next one's, in points.
    var leading: Double

    static let body = PDFTextStyle(face: .regular, size: 10, leading: 13.5)
    static let label = PDFTextStyle(face: .bold, size: 10, leading: 13.5)
    static let notice = PDFTextStyle(face: .bold, size: 10, leading: 13.5)
    static let footer = PDFTextStyle(face: .regular, size: 8, leading: 10)
}

/// An A4 page with 2 cm margins; page numbers sit in the bottom margin.
struct PDFPageGeometry: Sendable, Equatable {
    var width = 595.276
    var height = 841.89
    var marginLeft = 56.693
    var marginRight = 56.693
    var marginTop = 56.693
    var marginBottom = 56.693
    var footerBaseline = 28.0

    var textLeft: Double { marginLeft }
    var textRight: Double { width - marginRight }
    var textWidth: Double { width - marginLeft - marginRight }
}

/// What the document is made of, top to bottom.
enum PDFBlock: Sendable, Equatable {
    /// Label/value rows (the header block): labels in one column, values wrapped beside it.
    case fields([(label: String, value: String)])
    /// Text whose "\n" are line breaks; each line is wrapped to the text width.
    case text(String, PDFTextStyle)
    /// A horizontal line across the text width.
    case rule
    /// Vertical space, in points.
    case space(Double)

    static func == (a: PDFBlock, b: PDFBlock) -> Bool {
        switch (a, b) {
        case (.fields(let x), .fields(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.label == $1.label && $0.value == $1.value }
        case (.text(let s, let t), .text(let u, let v)): return s == u && t == v
        case (.rule, .rule): return true
        case (.space(let x), .space(let y)): return x == y
        default: return false
        }
    }
}

struct PDFLayout {
    /// One line of text as it will be drawn: at (x, baseline), `width` as measured for
    /// exactly `text` in `style`, in a column `maxWidth` wide.
    struct Line: Sendable, Equatable {
        var text: String
        var style: PDFTextStyle
        var x: Double
        var baseline: Double
        var width: Double
        var maxWidth: Double
    }

    /// A horizontal rule at height `y` from `x0` to `x1`.
    struct Rule: Sendable, Equatable {
        var y: Double
        var x0: Double
        var x1: Double
    }

    struct Page: Sendable, Equatable {
        var lines: [Line] = []
        var rules: [Rule] = []
    }

    typealias Measure = (String, PDFTextStyle) -> Double

    let geometry: PDFPageGeometry
    let measure: Measure

    init(geometry: PDFPageGeometry = PDFPageGeometry(), measure: @escaping Measure) {
        self.geometry = geometry
        self.measure = measure
    }

    /// Lays the blocks out on as many pages as they need, then numbers the pages
    /// ("Page i of n", centred in the bottom margin). Never returns zero pages.
    func layout(_ blocks: [PDFBlock]) -> [Page] {
        var cursor = Cursor(geometry: geometry)
        for block in blocks {
            switch block {
            case .fields(let rows):
                layoutFields(rows, into: &cursor)
            case .text(let text, let style):
                for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
                    for (piece, width) in wrap(String(paragraph), width: geometry.textWidth, style: style) {
                        cursor.place(piece, style: style, x: geometry.textLeft, width: width, maxWidth: geometry.textWidth)
                    }
                }
            case .rule:
                cursor.rule()
            case .space(let points):
                cursor.space(points)
            }
        }
        var pages = cursor.finish()
        let total = pages.count
        for i in pages.indices {
            let label = "Page \(i + 1) of \(total)"
            let w = measure(label, .footer)
            pages[i].lines.append(Line(text: label, style: .footer,
                                       x: geometry.textLeft + max(0, (geometry.textWidth - w) / 2),
                                       baseline: geometry.footerBaseline, width: w, maxWidth: geometry.textWidth))
        }
        return pages
    }

    private func layoutFields(_ rows: [(label: String, value: String)], into cursor: inout Cursor) {
        let gap = 6.0
        let labelColumn = min(rows.map { measure($0.label, .label) }.max() ?? 0, geometry.textWidth / 3)
        let valueX = geometry.textLeft + labelColumn + gap
        let valueWidth = geometry.textRight - valueX
        for row in rows {
            let values = row.value.split(separator: "\n", omittingEmptySubsequences: false)
                .flatMap { wrap(String($0), width: valueWidth, style: .body) }
            let labelWidth = measure(row.label, .label)
            // The label shares the first value line's baseline.
            cursor.place(row.label, style: .label, x: geometry.textLeft, width: labelWidth,
                         maxWidth: labelColumn, advance: values.isEmpty)
            for (piece, width) in values {
                cursor.place(piece, style: .body, x: valueX, width: width, maxWidth: valueWidth)
            }
        }
    }

    /// Breaks one line of text (no "\n") into pieces no wider than `width`: at spaces where
    /// possible, inside a word only when the word alone is too wide. Leading spaces
    /// (indentation) stay on the first piece; spaces at a break are dropped. An empty line
    /// gives one empty piece.
    func wrap(_ line: String, width: Double, style: PDFTextStyle) -> [(String, Double)] {
        let whole = measure(line, style)
        if whole <= width { return [(line, whole)] }

        var pieces: [(String, Double)] = []
        var current = ""
        var currentWidth = 0.0
        var pendingSpaces = ""
        var isFirstWord = true
        for token in Self.tokens(line) {
            if token.isSpace {
                pendingSpaces += token.text
                continue
            }
            let separator = (current.isEmpty && !isFirstWord) ? "" : pendingSpaces
            pendingSpaces = ""
            isFirstWord = false
            let candidate = current + separator + token.text
            let candidateWidth = measure(candidate, style)
            if candidateWidth <= width {
                current = candidate
                currentWidth = candidateWidth
                continue
            }
            if !current.isEmpty {
                pieces.append((current, currentWidth))
                current = ""
                currentWidth = 0
            }
            // The word starts a line; break it if even that is too wide.
            var rest = Substring(current.isEmpty && pieces.isEmpty ? separator + token.text : token.text)
            // Bounded: each round takes at least one character off `rest`.
            while !rest.isEmpty {
                let (head, headWidth) = longestFittingPrefix(rest, width: width, style: style)
                if head.endIndex == rest.endIndex {
                    current = String(rest)
                    currentWidth = headWidth
                    break
                }
                pieces.append((String(head), headWidth))
                rest = rest[head.endIndex...]
            }
        }
        if !current.isEmpty || pieces.isEmpty { pieces.append((current, currentWidth)) }
        return pieces
    }

    /// No line holds more characters than this (a 0.5 pt wide character would be needed
    /// to fill a column with more); it keeps breaking a huge word linear in its length.
    static let maxCharactersPerLine = 1000

    /// The longest prefix of `text` (whole characters) that fits `width`; at least one
    /// character, so that wrapping always makes progress.
    private func longestFittingPrefix(_ text: Substring, width: Double, style: PDFTextStyle) -> (Substring, Double) {
        var low = 1
        var high = text.prefix(Self.maxCharactersPerLine).count
        var best = text.prefix(1)
        var bestWidth = measure(String(best), style)
        while low <= high {
            let mid = (low + high) / 2
            let candidate = text.prefix(mid)
            let w = measure(String(candidate), style)
            if w <= width {
                best = candidate
                bestWidth = w
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return (best, bestWidth)
    }

    private struct Token {
        var text: String
        var isSpace: Bool
    }

    private static func tokens(_ line: String) -> [Token] {
        var out: [Token] = []
        var current = ""
        var currentIsSpace = false
        for ch in line {
            let isSpace = ch == " "
            if !current.isEmpty && isSpace != currentIsSpace {
                out.append(Token(text: current, isSpace: currentIsSpace))
                current = ""
            }
            current.append(ch)
            currentIsSpace = isSpace
        }
        if !current.isEmpty { out.append(Token(text: current, isSpace: currentIsSpace)) }
        return out
    }

    /// Where the next line goes; starts a new page when a line would enter the bottom margin.
    private struct Cursor {
        let geometry: PDFPageGeometry
        var pages: [Page] = [Page()]
        /// The top of the next line.
        var top: Double

        init(geometry: PDFPageGeometry) {
            self.geometry = geometry
            top = geometry.height - geometry.marginTop
        }

        private var isPageEmpty: Bool {
            pages[pages.count - 1].lines.isEmpty && pages[pages.count - 1].rules.isEmpty
        }

        private mutating func newPage() {
            pages.append(Page())
            top = geometry.height - geometry.marginTop
        }

        mutating func place(_ text: String, style: PDFTextStyle, x: Double, width: Double, maxWidth: Double,
                            advance: Bool = true) {
            if top - style.leading < geometry.marginBottom && !isPageEmpty { newPage() }
            // The baseline sits one font size below the line's top: DejaVu's ascent (0.93 em)
            // stays inside the line, and its descent (0.24 em) inside the leading.
            let line = Line(text: text, style: style, x: x, baseline: top - style.size, width: width, maxWidth: maxWidth)
            pages[pages.count - 1].lines.append(line)
            if advance { top -= style.leading }
        }

        mutating func rule() {
            let gap = 4.0
            if top - 2 * gap < geometry.marginBottom { newPage() }
            if isPageEmpty { return }  // a rule at the top of a page separates nothing
            top -= gap
            pages[pages.count - 1].rules.append(Rule(y: top, x0: geometry.textLeft, x1: geometry.textRight))
            top -= gap
        }

        mutating func space(_ points: Double) {
            if isPageEmpty { return }
            top -= points
        }

        func finish() -> [Page] { pages }
    }
}
