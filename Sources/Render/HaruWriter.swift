// libharu behind a small type: one unencrypted PDF document with the embedded DejaVu Sans
// fonts (UTF-8 text), pages of positioned text lines and rules, file attachments from
// memory, and the Info title. Nothing of libharu leaves this file.
//
// Attachments are not made with HPDF_AttachFile: it reads a file path and stores that path
// in the PDF, and writes a file specification qpdf warns about. Instead the embedded file
// stream reads the caller's bytes through a libharu callback reader (no copy, no file), and
// the file specification carries the original name as a Unicode text string (/UF).
import CHaru
import Foundation

final class HaruWriter {
    /// Debian's fonts-dejavu-core.
    static let defaultFontDirectory = "/usr/share/fonts/truetype/dejavu"

    /// What the writer measured just before drawing a line, for the tests: the width
    /// libharu reports for the page's font and size, and the column it had to fit.
    struct DrawnLine: Sendable, Equatable {
        var page: Int
        var text: String
        var x: Double
        var measuredWidth: Double
        var maxWidth: Double
    }

    private let doc: HPDF_Doc
    private var fonts: [PDFFace: HPDF_Font] = [:]
    private var fontDefs: [PDFFace: HPDF_FontDef] = [:]
    private var page: HPDF_Page?
    private var pageCount = 0
    /// The file specifications made so far, by name-tree key (UTF-16BE with BOM).
    private var embeddedFiles: [(key: [HPDF_BYTE], spec: HPDF_Dict)] = []
    /// Kept alive until the document is written: libharu reads them while saving.
    private var sources: [AttachmentSource] = []
    private(set) var drawnLines: [DrawnLine] = []

    init(fontDirectory: String = HaruWriter.defaultFontDirectory) throws {
        // No error handler: every call's result is checked here instead.
        guard let doc = HPDF_New(nil, nil) else { throw PDFError("libharu could not create a document") }
        self.doc = doc
        try check(HPDF_SetCompressionMode(doc, HPDF_UINT(HPDF_COMP_ALL)), "compression")
        try check(HPDF_UseUTFEncodings(doc), "UTF-8 encodings")
        try check(HPDF_SetCurrentEncoder(doc, "UTF-8"), "UTF-8 encoder")
        for (face, file) in [(PDFFace.regular, "DejaVuSans.ttf"), (.bold, "DejaVuSans-Bold.ttf")] {
            let path = fontDirectory + "/" + file
            guard let name = HPDF_LoadTTFontFromFile(doc, path, HPDF_BOOL(HPDF_TRUE)),
                  let font = HPDF_GetFont(doc, name, "UTF-8"),
                  let def = HPDF_GetFontDef(doc, name) else {
                throw PDFError("cannot load the font \(path) (libharu error \(errorCode)); install fonts-dejavu-core")
            }
            try replaceToUnicode(of: font)
            fonts[face] = font
            fontDefs[face] = def
        }
    }

    /// libharu 2.3.0 gives a UTF-8 font a /ToUnicode stream that is its encoding CMap
    /// ("begincidrange"), which is not a ToUnicode CMap: poppler rejects it with a syntax
    /// warning, and copying text out of the PDF depends on the reader's guesswork. With the
    /// UTF-8 encoder every character code is the character's UTF-16 code unit, so the right
    /// ToUnicode CMap is the identity on the BMP, written here in its place.
    private func replaceToUnicode(of font: HPDF_Font) throws {
        guard let item = HPDF_Dict_GetItem(font, "ToUnicode", HPDF_UINT16(HPDF_OCLASS_DICT)),
              case let cmap = item.assumingMemoryBound(to: HPDF_Dict_Rec.self),
              let stream = cmap.pointee.stream, stream.pointee.type == HPDF_STREAM_MEMORY else {
            throw PDFError("libharu made no ToUnicode CMap for a UTF-8 font (\(errorCode))")
        }
        HPDF_MemStream_FreeData(stream)
        var text = """
            /CIDInit /ProcSet findresource begin
            12 dict begin
            begincmap
            /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
            /CMapName /Adobe-Identity-UCS def
            /CMapType 2 def
            1 begincodespacerange
            <0000> <FFFF>
            endcodespacerange

            """
        // A bfrange may vary only in its last byte: one range per high byte, in blocks of
        // at most 100 (the CMap limit per block). Surrogates are never drawn.
        let highBytes = (0x00...0xFF).filter { !(0xD8...0xDF).contains($0) }
        for start in stride(from: 0, to: highBytes.count, by: 100) {
            let block = highBytes[start..<min(start + 100, highBytes.count)]
            text += "\(block.count) beginbfrange\n"
            for h in block {
                let hex = String(h, radix: 16, uppercase: true)
                let hi = h < 16 ? "0" + hex : hex
                text += "<\(hi)00> <\(hi)FF> <\(hi)00>\n"
            }
            text += "endbfrange\n"
        }
        text += """
            endcmap
            CMapName currentdict /CMap defineresource pop
            end
            end

            """
        try check(HPDF_Stream_WriteStr(stream, text), "ToUnicode CMap")
    }

    deinit {
        HPDF_Free(doc)
    }

    private var errorCode: String { "0x" + String(HPDF_GetError(doc), radix: 16) }

    private func check(_ status: HPDF_STATUS, _ step: String) throws {
        if status != HPDF_STATUS(HPDF_OK) {
            throw PDFError("libharu failed at \(step): error 0x\(String(status, radix: 16)), detail \(HPDF_GetErrorDetail(doc))")
        }
    }

    // MARK: Fonts

    /// Whether the font of `face` has a glyph for `scalar` (libharu's own cmap lookup;
    /// glyph 0 is .notdef). libharu's cmap reader covers the Basic Multilingual Plane only.
    func hasGlyph(_ scalar: Unicode.Scalar, face: PDFFace) -> Bool {
        guard scalar.value <= 0xFFFF, let def = fontDefs[face] else { return false }
        return HPDF_TTFontDef_GetGlyphid(def, HPDF_UINT16(scalar.value)) != 0
    }

    /// The width of `text` in points, from the font's advance widths.
    func width(_ text: String, style: PDFTextStyle) -> Double {
        guard let font = fonts[style.face], !text.isEmpty else { return 0 }
        let count = text.utf8.count
        let units = text.withCString { p in
            p.withMemoryRebound(to: HPDF_BYTE.self, capacity: count + 1) { bytes in
                HPDF_Font_TextWidth(font, bytes, HPDF_UINT(count)).width
            }
        }
        return Double(units) * style.size / 1000
    }

    // MARK: Pages

    func beginPage(_ geometry: PDFPageGeometry) throws {
        guard let page = HPDF_AddPage(doc) else { throw PDFError("libharu could not add a page (\(errorCode))") }
        try check(HPDF_Page_SetWidth(page, HPDF_REAL(geometry.width)), "page width")
        try check(HPDF_Page_SetHeight(page, HPDF_REAL(geometry.height)), "page height")
        self.page = page
        pageCount += 1
    }

    /// Draws one line, after measuring it on the page with its font and size; a line wider
    /// than its column is refused rather than drawn into the margin.
    func draw(_ line: PDFLayout.Line) throws {
        guard let page, let font = fonts[line.style.face] else { throw PDFError("no page to draw on") }
        if line.text.isEmpty { return }
        try check(HPDF_Page_BeginText(page), "begin text")
        try check(HPDF_Page_SetFontAndSize(page, font, HPDF_REAL(line.style.size)), "font")
        let measured = Double(HPDF_Page_TextWidth(page, line.text))
        drawnLines.append(DrawnLine(page: pageCount, text: line.text, x: line.x, measuredWidth: measured, maxWidth: line.maxWidth))
        // HPDF_REAL is a float: allow its rounding, nothing more.
        guard measured <= line.maxWidth + 0.01 else {
            _ = HPDF_Page_EndText(page)
            throw PDFError("a line is \(measured) pt wide, its column \(line.maxWidth) pt")
        }
        try check(HPDF_Page_TextOut(page, HPDF_REAL(line.x), HPDF_REAL(line.baseline), line.text), "text")
        try check(HPDF_Page_EndText(page), "end text")
    }

    func draw(_ rule: PDFLayout.Rule) throws {
        guard let page else { throw PDFError("no page to draw on") }
        try check(HPDF_Page_SetLineWidth(page, 0.5), "line width")
        try check(HPDF_Page_SetGrayStroke(page, 0.6), "stroke colour")
        try check(HPDF_Page_MoveTo(page, HPDF_REAL(rule.x0), HPDF_REAL(rule.y)), "move")
        try check(HPDF_Page_LineTo(page, HPDF_REAL(rule.x1), HPDF_REAL(rule.y)), "line")
        try check(HPDF_Page_Stroke(page), "stroke")
    }

    // MARK: Document information

    /// Info /Title as a UTF-16 text string, and a Producer that names no path or version.
    func setInfo(title: String) throws {
        try check(HPDF_SetInfoAttr(doc, HPDF_INFO_PRODUCER, "spoolrun"), "producer")
        guard let info = doc.pointee.info, let value = textString(title) else {
            throw PDFError("libharu has no Info dictionary (\(errorCode))")
        }
        try check(HPDF_Dict_Add(info, "Title", value), "title")
    }

    /// A PDF text string in UTF-16BE with its byte order mark, written in hex.
    private func textString(_ s: String) -> HPDF_Binary? {
        binary(Self.utf16Text(s))
    }

    private func binary(_ bytes: [HPDF_BYTE]) -> HPDF_Binary? {
        var bytes = bytes
        return bytes.withUnsafeMutableBufferPointer { HPDF_Binary_New(doc.pointee.mmgr, $0.baseAddress, HPDF_UINT($0.count)) }
    }

    static func utf16Text(_ s: String) -> [HPDF_BYTE] {
        var bytes: [HPDF_BYTE] = [0xFE, 0xFF]
        for unit in s.utf16 {
            bytes.append(HPDF_BYTE(unit >> 8))
            bytes.append(HPDF_BYTE(unit & 0xFF))
        }
        return bytes
    }

    // MARK: Attachments

    /// Embeds `data` as a file attachment named `name`. The name tree that lists the
    /// attachments is written by `save`.
    func attach(name: String, data: [UInt8]) throws {
        let mmgr = doc.pointee.mmgr
        let xref = doc.pointee.xref

        // The embedded file stream, reading from memory when the document is saved.
        let source = AttachmentSource(data)
        guard let stream = HPDF_DictStream_New(mmgr, xref),
              let reader = HPDF_CallbackReader_New(mmgr, attachmentRead, attachmentSeek, attachmentTell,
                                                   attachmentSize, Unmanaged.passUnretained(source).toOpaque()) else {
            throw PDFError("libharu could not make an embedded file stream (\(errorCode))")
        }
        sources.append(source)
        HPDF_Stream_Free(stream.pointee.stream)
        stream.pointee.stream = reader
        // Compressed, unless it is empty (zero bytes are no valid Flate data) or already
        // compressed (deflating a zip or a JPEG again costs time and saves nothing).
        if !data.isEmpty && !Self.looksCompressed(data) {
            stream.pointee.filter = HPDF_UINT(HPDF_STREAM_FILTER_FLATE_DECODE)
        }
        try check(HPDF_Dict_AddName(stream, "Type", "EmbeddedFile"), "embedded file type")
        guard let params = HPDF_Dict_New(mmgr), data.count <= Int(Int32.max) else {
            throw PDFError("attachment too large or out of memory")
        }
        try check(HPDF_Dict_AddNumber(params, "Size", HPDF_INT32(data.count)), "size")
        try check(HPDF_Dict_Add(stream, "Params", params), "params")

        // The file specification: /F a plain-ASCII fallback, /UF the real name.
        guard let spec = HPDF_Dict_New(mmgr), let ef = HPDF_Dict_New(mmgr),
              let unicodeName = textString(name),
              let asciiName = HPDF_String_New(mmgr, Self.asciiFallback(name), nil) else {
            throw PDFError("out of memory for a file specification")
        }
        try check(HPDF_Xref_Add(xref, spec), "file specification")
        try check(HPDF_Dict_AddName(spec, "Type", "Filespec"), "filespec type")
        try check(HPDF_Dict_Add(spec, "F", asciiName), "filespec name")
        try check(HPDF_Dict_Add(spec, "UF", unicodeName), "filespec Unicode name")
        try check(HPDF_Dict_Add(ef, "F", stream), "embedded file")
        try check(HPDF_Dict_Add(spec, "EF", ef), "filespec EF")

        embeddedFiles.append((key: uniqueKey(for: name), spec: spec))
    }

    /// The name-tree key for `name`: the name itself as a text string, made unique with
    /// " (2)", " (3)"... when several attachments share a name.
    private func uniqueKey(for name: String) -> [HPDF_BYTE] {
        let taken = Set(embeddedFiles.map(\.key))
        var key = Self.utf16Text(name)
        var n = 2
        // Bounded: at most one more candidate than there are attachments.
        while taken.contains(key) && n <= embeddedFiles.count + 2 {
            key = Self.utf16Text("\(name) (\(n))")
            n += 1
        }
        return key
    }

    /// The catalog's /Names /EmbeddedFiles name tree, as one leaf with its keys sorted by
    /// their bytes, as a name tree needs. (hpdf.h does not declare libharu's name-tree
    /// helpers, so the tree is built from dictionaries, an array and strings.)
    private func writeNameTree() throws {
        guard !embeddedFiles.isEmpty else { return }
        let mmgr = doc.pointee.mmgr
        let xref = doc.pointee.xref
        guard HPDF_Catalog_GetNames(doc.pointee.catalog) == nil else {
            throw PDFError("the catalog already has a Names dictionary")
        }
        guard let names = HPDF_Dict_New(mmgr), let tree = HPDF_Dict_New(mmgr), let array = HPDF_Array_New(mmgr) else {
            throw PDFError("out of memory for the EmbeddedFiles name tree")
        }
        try check(HPDF_Xref_Add(xref, names), "Names dictionary")
        try check(HPDF_Xref_Add(xref, tree), "EmbeddedFiles name tree")
        for entry in embeddedFiles.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            guard let key = binary(entry.key) else { throw PDFError("out of memory for a name") }
            try check(HPDF_Array_Add(array, UnsafeMutableRawPointer(key)), "name tree key")
            try check(HPDF_Array_Add(array, UnsafeMutableRawPointer(entry.spec)), "name tree value")
        }
        try check(HPDF_Dict_Add(tree, "Names", array), "name tree array")
        try check(HPDF_Dict_Add(names, "EmbeddedFiles", tree), "EmbeddedFiles")
        try check(HPDF_Catalog_SetNames(doc.pointee.catalog, names), "catalog Names")
        embeddedFiles = []
    }

    /// Whether the first 64 KB look like compressed or encrypted data: more than 7.5 bits
    /// of entropy per byte (text, office XML and uncompressed images stay far below).
    static func looksCompressed(_ data: [UInt8]) -> Bool {
        let sample = data.prefix(65536)
        guard sample.count >= 4096 else { return false }
        var counts = [Int](repeating: 0, count: 256)
        for byte in sample { counts[Int(byte)] += 1 }
        let n = Double(sample.count)
        var entropy = 0.0
        for c in counts where c > 0 {
            let p = Double(c) / n
            entropy -= p * log2(p)
        }
        return entropy > 7.5
    }

    /// The name with every character outside printable ASCII as "_", for readers that
    /// ignore /UF.
    static func asciiFallback(_ name: String) -> String {
        String(name.unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "_" })
    }

    // MARK: Output

    /// Writes the document and returns its bytes. libharu writes straight into one array
    /// (through a callback stream put where HPDF_SaveToStream expects its memory stream),
    /// reserved for `expectedSize` bytes: reserved pages that are never written cost no
    /// memory, and a good guess avoids every copy.
    func save(expectedSize: Int) throws -> [UInt8] {
        try writeNameTree()
        let sink = OutputSink(capacity: expectedSize)
        guard doc.pointee.stream == nil,
              let stream = HPDF_CallbackWriter_New(doc.pointee.mmgr, outputWrite, Unmanaged.passUnretained(sink).toOpaque()) else {
            throw PDFError("libharu could not make an output stream (\(errorCode))")
        }
        // HPDF_Free frees it; the sink outlives it until this function returns.
        doc.pointee.stream = stream
        defer { stream.pointee.attr = nil }
        try check(HPDF_SaveToStream(doc), "writing the document")
        return sink.bytes
    }
}

/// Where libharu's output goes.
private final class OutputSink {
    var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }
}

private let outputWrite: HPDF_Stream_Write_Func = { stream, data, size in
    guard let attr = stream?.pointee.attr, let data else { return HPDF_STATUS(HPDF_INVALID_PARAMETER) }
    let sink = Unmanaged<OutputSink>.fromOpaque(attr).takeUnretainedValue()
    sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(size)))
    return HPDF_STATUS(HPDF_OK)
}

/// The bytes of one attachment and a read position, for libharu's callback reader.
private final class AttachmentSource {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    static func from(_ stream: HPDF_Stream?) -> AttachmentSource? {
        guard let attr = stream?.pointee.attr else { return nil }
        return Unmanaged<AttachmentSource>.fromOpaque(attr).takeUnretainedValue()
    }
}

// libharu's stream callbacks: C function pointers, so they capture nothing and find their
// source through the stream's attr pointer.

private let attachmentRead: HPDF_Stream_Read_Func = { stream, buffer, size in
    guard let source = AttachmentSource.from(stream), let buffer, let size else {
        return HPDF_STATUS(HPDF_INVALID_PARAMETER)
    }
    let wanted = Int(size.pointee)
    let count = min(wanted, source.bytes.count - source.position)
    source.bytes.withUnsafeBufferPointer { src in
        if count > 0 { buffer.update(from: src.baseAddress! + source.position, count: count) }
    }
    source.position += count
    size.pointee = HPDF_UINT(count)
    return count < wanted ? HPDF_STATUS(HPDF_STREAM_EOF) : HPDF_STATUS(HPDF_OK)
}

private let attachmentSeek: HPDF_Stream_Seek_Func = { stream, offset, whence in
    guard let source = AttachmentSource.from(stream) else { return HPDF_STATUS(HPDF_INVALID_PARAMETER) }
    let base: Int
    switch whence {
    case HPDF_SEEK_CUR: base = source.position
    case HPDF_SEEK_END: base = source.bytes.count
    default: base = 0
    }
    let target = base + Int(offset)
    guard target >= 0 && target <= source.bytes.count else { return HPDF_STATUS(HPDF_FILE_IO_ERROR) }
    source.position = target
    return HPDF_STATUS(HPDF_OK)
}

private let attachmentTell: HPDF_Stream_Tell_Func = { stream in
    HPDF_INT32(AttachmentSource.from(stream)?.position ?? 0)
}

private let attachmentSize: HPDF_Stream_Size_Func = { stream in
    HPDF_UINT32(AttachmentSource.from(stream)?.bytes.count ?? 0)
}
