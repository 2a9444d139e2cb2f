// The text of a cleaned HTML document, for media that show no HTML (the PDF): blocks become
// lines, paragraphs are separated by a blank line, list items get "• " or "1. ", quoted
// text gets "> ", and a link becomes "text (url)".

enum TextRenderer {
    static func render(_ document: LibXML2Document) -> String {
        var writer = TextWriter()
        document.walk(enter: { node in
            switch node.kind {
            case .text:
                writer.text(node.text)
                return .descend
            case .other:
                return .skipChildren
            case .element:
                writer.open(node)
                return .descend
            }
        }, leave: { node in
            writer.close(node)
        })
        return writer.result
    }
}

private struct TextWriter {
    /// Blocks followed by a blank line.
    static let paragraphs: Set<String> = [
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "dl", "figure",
        "address", "hr", "details",
    ]
    /// Blocks that start a new line.
    static let lines: Set<String> = [
        "div", "li", "dt", "dd", "tr", "caption", "section", "article", "header", "footer", "main",
        "nav", "aside", "center", "figcaption", "summary", "body",
    ]

    private var out = ""
    private var pendingBreaks = 0
    private var pendingSpace = false
    private var atLineStart = true
    private var preDepth = 0
    private var quoteDepth = 0
    private var lastWrittenQuoteDepth = 0
    private var lists: [(ordered: Bool, next: Int)] = []
    private var links: [(href: String?, start: Int)] = []
    private var cellsInRow: [Int] = []

    var result: String {
        var lines = out.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            var line = line
            while line.last == " " || line.last == "\t" { line.removeLast() }
            return line
        }
        // At most one blank line in a row, none at the start or the end.
        var collapsed: [Substring] = []
        for line in lines {
            if line.isEmpty && (collapsed.isEmpty || collapsed.last?.isEmpty == true) { continue }
            collapsed.append(line)
        }
        while collapsed.last?.isEmpty == true { collapsed.removeLast() }
        lines = collapsed
        return lines.joined(separator: "\n")
    }

    mutating func text(_ text: String) {
        if preDepth > 0 {
            var first = true
            for line in text.replacingCRLF().split(separator: "\n", omittingEmptySubsequences: false) {
                if !first { newline() }
                first = false
                if !line.isEmpty { write(String(line)) }
            }
            return
        }
        // Outside <pre>, runs of white space are one space (CSS white-space: normal); a
        // no-break space is kept as a plain space that does not collapse.
        var word = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case " ", "\t", "\n", "\r", "\u{0C}":
                if !word.isEmpty { write(word); word = "" }
                pendingSpace = true
            case "\u{A0}":
                word.append(" ")
            default:
                word.unicodeScalars.append(scalar)
            }
        }
        if !word.isEmpty { write(word) }
    }

    mutating func open(_ node: LibXML2Node) {
        let name = node.name
        switch name {
        case "br":
            flushBreaks()
            newline()
            pendingSpace = false
        case "ul", "ol":
            breakLine(lists.isEmpty ? 2 : 1)
            let start = node.attribute("start").flatMap { Int($0.trimmingSpaces) } ?? 1
            lists.append((name == "ol", start))
        case "li":
            breakLine(1)
            let depth = max(0, lists.count - 1)
            var marker = "• "
            if let list = lists.last, list.ordered {
                let number = node.attribute("value").flatMap { Int($0.trimmingSpaces) } ?? list.next
                marker = "\(number). "
                lists[lists.count - 1].next = number + 1
            }
            write(String(repeating: "  ", count: depth) + marker)
            pendingSpace = false
        case "tr":
            breakLine(1)
            cellsInRow.append(0)
        case "td", "th":
            if let cells = cellsInRow.last {
                if cells > 0 { pendingSpace = true }
                cellsInRow[cellsInRow.count - 1] = cells + 1
            }
        case "a":
            links.append((node.attribute("href"), out.utf8.count))
        case "img":
            if let alt = node.attribute("alt"), !alt.trimmingSpaces.isEmpty { text(alt) }
        default:
            if Self.paragraphs.contains(name) {
                breakLine(2)
            } else if Self.lines.contains(name) {
                breakLine(1)
            }
        }
        if name == "pre" { preDepth += 1 }
        if name == "blockquote" { quoteDepth += 1 }
    }

    mutating func close(_ node: LibXML2Node) {
        let name = node.name
        switch name {
        case "ul", "ol":
            if !lists.isEmpty { lists.removeLast() }
            breakLine(lists.isEmpty ? 2 : 1)
        case "tr":
            if !cellsInRow.isEmpty { cellsInRow.removeLast() }
            breakLine(1)
        case "a":
            guard let link = links.popLast(), let href = link.href else { return }
            let label = String(decoding: out.utf8.dropFirst(link.start), as: UTF8.self).trimmingSpaces
            if label.isEmpty {
                write(href)
            } else if label != href && "mailto:" + label != href {
                pendingSpace = true
                write("(\(href))")
            }
        default:
            if Self.paragraphs.contains(name) {
                breakLine(2)
            } else if Self.lines.contains(name) {
                breakLine(1)
            }
        }
        if name == "pre" { preDepth = max(0, preDepth - 1) }
        if name == "blockquote" { quoteDepth = max(0, quoteDepth - 1) }
    }

    /// Asks for `count` line breaks before the next text (none at the very start).
    private mutating func breakLine(_ count: Int) {
        if !out.isEmpty { pendingBreaks = max(pendingBreaks, count) }
        pendingSpace = false
    }

    private mutating func flushBreaks() {
        while pendingBreaks > 0 {
            newline()
            pendingBreaks -= 1
        }
    }

    private mutating func newline() {
        // A blank line is part of a quote only if the text on both sides of it is.
        let blankLineDepth = min(quoteDepth, lastWrittenQuoteDepth)
        if atLineStart && blankLineDepth > 0 { out += String(repeating: ">", count: blankLineDepth) }
        out += "\n"
        atLineStart = true
    }

    private mutating func write(_ text: String) {
        if pendingBreaks > 0 {
            flushBreaks()
        } else if pendingSpace && !atLineStart {
            out += " "
        }
        pendingSpace = false
        if atLineStart {
            if quoteDepth > 0 { out += String(repeating: ">", count: quoteDepth) + " " }
            atLineStart = false
        }
        lastWrittenQuoteDepth = quoteDepth
        out += text
    }
}

private extension String {
    var trimmingSpaces: String {
        var scalars = unicodeScalars[...]
        let isSpace: (Unicode.Scalar) -> Bool = { $0.value <= 0x20 || $0 == "\u{A0}" }
        while let first = scalars.first, isSpace(first) { scalars.removeFirst() }
        while let last = scalars.last, isSpace(last) { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }

    func replacingCRLF() -> String {
        var scalars = String.UnicodeScalarView()
        var previousCR = false
        for scalar in unicodeScalars {
            if scalar == "\r" {
                scalars.append("\n")
                previousCR = true
                continue
            }
            if scalar == "\n" && previousCR { previousCR = false; continue }
            previousCR = false
            scalars.append(scalar)
        }
        return String(scalars)
    }
}
