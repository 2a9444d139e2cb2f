// The OTP-mode PDF of one message (DESIGN §7): header block, body text, a list of the
// attachments, which are also embedded as PDF file attachments; then encrypted by
// `PDFEncryptor`. This file decides what goes on the page; PDFLayout places it and
// HaruWriter draws it.

public enum OTPPDF {
    /// Said once, near the top, when any character had to be replaced by the placeholder.
    public static let incompleteNotice =
        "Some characters could not be shown in this PDF; the copy in the portal is complete."

    /// The unencrypted PDF of `doc`.
    public static func render(_ doc: PDFDocument) throws -> [UInt8] {
        try renderForInspection(doc).pdf
    }

    /// The PDF of `doc`, encrypted AES-256 (R6) under `password`. qpdf writes the
    /// ciphertext into an unnamed scratch file in `scratchDirectory` (default: the temporary
    /// directory), and the unencrypted bytes are dropped before it is read back, so at the
    /// peak memory holds the message and one copy of the PDF.
    public static func renderEncrypted(_ doc: PDFDocument, password: String,
                                       scratchDirectory: String? = nil) throws -> [UInt8] {
        let scratch = try scratchDirectory.map { try UnnamedScratchFile(in: $0) } ?? UnnamedScratchFile()
        try PDFEncryptor.write(try render(doc), password: password, toFileNamed: scratch.procPath)
        return try scratch.readAll()
    }

    /// The PDF of `doc`, encrypted under `password`, written to `path` (created or
    /// truncated; the caller makes it durable and renames it into place).
    public static func renderEncrypted(_ doc: PDFDocument, password: String, to path: String) throws {
        try PDFEncryptor.encrypt(try render(doc), password: password, to: path)
    }

    /// What rendering produced, for the tests: the bytes, the pages as laid out, every line
    /// as the writer measured it before drawing, and how many characters were replaced.
    struct Rendering {
        var pdf: [UInt8]
        var pages: [PDFLayout.Page]
        var drawnLines: [HaruWriter.DrawnLine]
        var replacedCharacters: Int
        var geometry: PDFPageGeometry
    }

    static func renderForInspection(_ doc: PDFDocument, geometry: PDFPageGeometry = PDFPageGeometry()) throws -> Rendering {
        let writer = try HaruWriter()
        // Header values may be drawn in either face, so a character must exist in both.
        var filter = PDFTextFilter { writer.hasGlyph($0, face: .regular) && writer.hasGlyph($0, face: .bold) }

        var rows: [(label: String, value: String)] = [
            ("From:", filter.clean(doc.from, multiline: false)),
            ("To:", filter.clean(doc.to, multiline: false)),
        ]
        if !doc.cc.isEmpty { rows.append(("Cc:", filter.clean(doc.cc, multiline: false))) }
        rows.append(("Date:", filter.clean(doc.date, multiline: false)))
        rows.append(("Subject:", filter.clean(doc.subject, multiline: false)))
        let body = filter.clean(doc.bodyText)
        let attachmentLines = doc.attachments.map {
            "\u{2022} " + filter.clean(displayName($0.name), multiline: false) + " (" + byteCount($0.data.count) + ")"
        }

        var blocks: [PDFBlock] = [.fields(rows)]
        if filter.replaced > 0 {
            blocks += [.space(6), .text(incompleteNotice, .notice)]
        }
        blocks += [.space(4), .rule, .space(6), .text(body, .body)]
        if !attachmentLines.isEmpty {
            let heading = attachmentLines.count == 1
                ? "1 attachment, embedded in this PDF (see your PDF viewer's attachments panel):"
                : "\(attachmentLines.count) attachments, embedded in this PDF (see your PDF viewer's attachments panel):"
            blocks += [.space(8), .rule, .space(4), .text(heading, .label), .text(attachmentLines.joined(separator: "\n"), .body)]
        }

        let layout = PDFLayout(geometry: geometry) { writer.width($0, style: $1) }
        let pages = layout.layout(blocks)
        for page in pages {
            try writer.beginPage(geometry)
            for rule in page.rules { try writer.draw(rule) }
            for line in page.lines { try writer.draw(line) }
        }
        for attachment in doc.attachments {
            try writer.attach(name: embeddedName(attachment.name), data: attachment.data)
        }
        try writer.setInfo(title: doc.effectiveTitle)
        // Attachments are stored compressed, so their size bounds theirs; text and fonts
        // take a few megabytes at most.
        let attachmentBytes = doc.attachments.reduce(0) { $0 + $1.data.count }
        let expected = attachmentBytes + attachmentBytes / 64 + body.utf8.count + (4 << 20)
        return Rendering(pdf: try writer.save(expectedSize: expected), pages: pages, drawnLines: writer.drawnLines,
                         replacedCharacters: filter.replaced, geometry: geometry)
    }

    /// The name an attachment is embedded under: the original name with any directory part
    /// and control characters removed (a PDF reader would offer it as a file name).
    static func embeddedName(_ name: String) -> String {
        let base = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(String.UnicodeScalarView(base.unicodeScalars.filter {
            !PDFTextFilter.isInvisible($0)
        })).trimmingSpaces
        if cleaned.isEmpty || cleaned == "." || cleaned == ".." { return "attachment" }
        return cleaned
    }

    private static func displayName(_ name: String) -> String { embeddedName(name) }

    /// "17 bytes", "12.3 KB", "4.0 MB" (decimal units).
    static func byteCount(_ n: Int) -> String {
        if n < 1000 { return n == 1 ? "1 byte" : "\(n) bytes" }
        let units = ["KB", "MB", "GB"]
        var value = Double(n) / 1000
        var unit = 0
        while value >= 999.95 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}

private extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
