// A linear pass over the raw bytes that refuses a message before GMime builds objects for it.
// GMime allocates about 1.3 KB per body part and about 75 bytes per byte of short header
// lines (measured with GMime 3.2.13: 5 MB of empty parts took 1.3 GB; 14 MB of "X-A: b"
// lines took 1 GB and 3.3 s), so the parts and header-block limits must hold before parsing,
// not only after. The pass over-estimates (every line that could be a delimiter, every run of
// lines that could be a header block); the exact counts are made again on GMime's tree.
import Glibc

enum MIMEPrescan {
    /// Throws when the bytes would give GMime more than about `partsAllowed` parts to build,
    /// or a header block over `limits.maxHeaderBytes`.
    static func check(_ bytes: [UInt8], limits: MIMELimits, partsAllowed: Int) throws {
        let boundaries = declaredBoundaries(bytes)
        // A delimiter line makes at most one child part. Lines that look like delimiters but
        // sit where no multipart uses them are counted too, hence the slack.
        let maxDelimiters = 2 * max(partsAllowed, 0) + 8
        var delimiters = 0

        enum State { case header, body }
        var state = State.header
        var blockStart = 0
        var blockIsEmpty = true
        var afterDelimiter = false
        var inContentType = false
        var announcesMessage = false

        try bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            let n = buf.count
            var i = 0
            func endOfHeaderBlock(at end: Int) throws {
                if end - blockStart > limits.maxHeaderBytes { throw MIMEError.headerLimit(limits.maxHeaderBytes) }
            }
            func startHeaderBlock(at start: Int, afterDelimiter delimiter: Bool) {
                state = .header
                blockStart = start
                blockIsEmpty = true
                afterDelimiter = delimiter
                inContentType = false
                announcesMessage = false
            }
            while i < n {
                let lf = memchr(base + i, 10, n - i).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }
                let next = lf.map { $0 + 1 } ?? n
                var end = lf ?? n
                if end > i, base[end - 1] == 13 { end -= 1 }
                let line = UnsafeBufferPointer(rebasing: buf[i..<end])

                switch state {
                case .header:
                    if line.isEmpty {
                        try endOfHeaderBlock(at: i)
                        // The blank line ends the block. The headers of an embedded message
                        // follow directly when the block announced message/* (or was empty
                        // after a delimiter, as in multipart/digest where that is the default).
                        if announcesMessage || (afterDelimiter && blockIsEmpty) {
                            startHeaderBlock(at: next, afterDelimiter: false)
                        } else {
                            state = .body
                        }
                        i = next
                        continue
                    }
                    let continuation = (line[0] == 32 || line[0] == 9) && !blockIsEmpty
                    if continuation || isFieldLine(line) {
                        if !continuation { inContentType = hasFieldName(line, "content-type") }
                        if inContentType, contains(line, lowercased: "message/") { announcesMessage = true }
                        blockIsEmpty = false
                        if next - blockStart > limits.maxHeaderBytes + 2 {
                            throw MIMEError.headerLimit(limits.maxHeaderBytes)
                        }
                        i = next
                        continue
                    }
                    // Not a header line: GMime ends the block here and reads on as body.
                    try endOfHeaderBlock(at: i)
                    state = .body
                    continue  // the same line again, as body
                case .body:
                    if line.count >= 2, line[0] == 45, line[1] == 45, isOpeningDelimiter(line, boundaries) {
                        delimiters += 1
                        if delimiters > maxDelimiters { throw MIMEError.partsLimit(limits.maxParts) }
                        startHeaderBlock(at: next, afterDelimiter: true)
                    }
                    i = next
                }
            }
            if state == .header { try endOfHeaderBlock(at: n) }
        }
    }

    /// Where the body really starts when a message's header block runs into it without the
    /// empty line (RFC 5322 §2.1): the offset of the first line that is not a header field,
    /// provided no header field follows before an empty line. GMime would drop such lines
    /// one by one and read on for headers; Python's email package and mime4j (with its
    /// "malformed header starts body" option) start the body there, and so do we. A stray
    /// line with header fields after it stays GMime's to drop. Nil when the block is sound.
    static func bodyStartInHeaderBlock(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { buf -> Int? in
            guard let base = buf.baseAddress else { return nil }
            let n = buf.count
            var i = 0
            var invalidAt: Int? = nil
            var sawField = false
            while i < n {
                let lf = memchr(base + i, 10, n - i).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }
                let next = lf.map { $0 + 1 } ?? n
                var end = lf ?? n
                if end > i, base[end - 1] == 13 { end -= 1 }
                let line = UnsafeBufferPointer(rebasing: buf[i..<end])
                if line.isEmpty { break }
                // An mbox "From " line first is skipped by GMime.
                let mboxFrom = i == 0 && line.starts(with: "From ".utf8)
                if isFieldLine(line) {
                    if invalidAt != nil { return nil }
                    sawField = true
                } else if !mboxFrom, !(sawField && (line[0] == 32 || line[0] == 9)), invalidAt == nil {
                    invalidAt = i
                }
                i = next
            }
            return invalidAt
        }
    }

    /// "--boundary" followed only by white space (GMime's is_boundary), for a boundary some
    /// Content-Type declares; when the declarations could not all be read, any "--" line.
    private static func isOpeningDelimiter(_ line: UnsafeBufferPointer<UInt8>, _ boundaries: Set<[UInt8]>?) -> Bool {
        guard let boundaries else { return true }
        var end = line.count
        while end > 2, line[end - 1] == 32 || line[end - 1] == 9 || line[end - 1] == 13 { end -= 1 }
        let rest = Array(line[2..<end])
        if boundaries.contains(rest) { return true }
        // "--boundary--" closes a multipart and starts no part, unless the boundary itself
        // ends in "--".
        return false
    }

    /// Every value a `boundary=` parameter could have anywhere in the bytes (a superset: body
    /// text that says boundary=x adds x). Nil when a declaration takes a form this scan does
    /// not decode (RFC 2231 `boundary*`, or an encoded-word), and every "--" line must count.
    static func declaredBoundaries(_ bytes: [UInt8]) -> Set<[UInt8]>? {
        var found: Set<[UInt8]> = []
        let name = Array("boundary".utf8)
        let n = bytes.count
        var exotic = false
        bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            var from = 0
            while from < n, let hit = memchr(base + from, 61, n - from) {  // '='
                let eq = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                from = eq + 1
                // Back over white space, then over RFC 2231 "*", "*0", "*1*".
                var j = eq
                while j > 0, buf[j - 1] == 32 || buf[j - 1] == 9 { j -= 1 }
                var star = false
                while j > 0, buf[j - 1] == 42 || (48...57).contains(buf[j - 1]) {
                    if buf[j - 1] == 42 { star = true }
                    j -= 1
                }
                guard j >= name.count else { continue }
                var matches = true
                for k in 0..<name.count where buf[j - name.count + k] | 0x20 != name[k] {
                    matches = false
                    break
                }
                guard matches else { continue }
                if star { exotic = true; return }
                // The value: skip white space (and folding), then a quoted string or a token.
                var v = eq + 1
                while v < n, buf[v] == 32 || buf[v] == 9 || buf[v] == 13 || buf[v] == 10 { v += 1 }
                guard v < n else { continue }
                var values: [[UInt8]] = []
                if buf[v] == 34 {  // '"'
                    var raw: [UInt8] = []
                    var unescaped: [UInt8] = []
                    var k = v + 1
                    while k < n, buf[k] != 34 {
                        if buf[k] == 92, k + 1 < n {  // backslash
                            raw.append(buf[k]); raw.append(buf[k + 1])
                            unescaped.append(buf[k + 1])
                            k += 2
                            continue
                        }
                        raw.append(buf[k]); unescaped.append(buf[k])
                        k += 1
                    }
                    values = [raw, unescaped]
                    // A quoted value folded over lines: GMime unfolds before reading it.
                    if raw.contains(10) {
                        values.append(raw.filter { $0 != 13 && $0 != 10 })
                        values.append(unfoldedDroppingWhitespace(raw))
                    }
                } else {
                    var k = v
                    while k < n, ![59, 32, 9, 13, 10, 34].contains(buf[k]) { k += 1 }  // ; SP HT CR LF "
                    values.append(Array(buf[v..<k]))
                    // Loose parsers may read an unquoted value up to the ';'.
                    var m = k
                    while m < n, ![59, 13, 10].contains(buf[m]) { m += 1 }
                    var trimmed = Array(buf[v..<m])
                    while let last = trimmed.last, last == 32 || last == 9 { trimmed.removeLast() }
                    values.append(trimmed)
                }
                for value in values where !value.isEmpty {
                    if contains(value, lowercased: "=?") { exotic = true; return }
                    found.insert(value)
                    var trimmed = value
                    while let last = trimmed.last, last == 32 || last == 9 { trimmed.removeLast() }
                    found.insert(trimmed)
                }
            }
        }
        return exotic ? nil : found
    }

    private static func unfoldedDroppingWhitespace(_ raw: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < raw.count {
            if raw[i] == 13 || raw[i] == 10 {
                i += 1
                while i < raw.count, raw[i] == 32 || raw[i] == 9 || raw[i] == 13 || raw[i] == 10 { i += 1 }
                continue
            }
            out.append(raw[i])
            i += 1
        }
        return out
    }

    /// A header field line: a name of printable ASCII other than ':' then ':' (white space
    /// before the colon is tolerated, as GMime does).
    private static func isFieldLine(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < line.count, line[i] > 32, line[i] < 127, line[i] != 58 { i += 1 }
        guard i > 0 else { return false }
        while i < line.count, line[i] == 32 || line[i] == 9 { i += 1 }
        return i < line.count && line[i] == 58
    }

    private static func hasFieldName(_ line: UnsafeBufferPointer<UInt8>, _ name: String) -> Bool {
        let name = Array(name.utf8)
        guard line.count > name.count else { return false }
        for k in 0..<name.count where line[k] | 0x20 != name[k] { return false }
        var i = name.count
        while i < line.count, line[i] == 32 || line[i] == 9 { i += 1 }
        return i < line.count && line[i] == 58
    }

    /// Whether `needle` (lower-case ASCII) occurs in `haystack`, ignoring ASCII case.
    private static func contains<C: RandomAccessCollection>(_ haystack: C, lowercased needle: String) -> Bool
    where C.Element == UInt8, C.Index == Int {
        let needle = Array(needle.utf8)
        guard haystack.count >= needle.count else { return false }
        let start = haystack.startIndex
        for i in start...(haystack.endIndex - needle.count) {
            var ok = true
            for k in 0..<needle.count {
                let c = haystack[i + k]
                let lower = (65...90).contains(c) ? c | 0x20 : c
                if lower != needle[k] { ok = false; break }
            }
            if ok { return true }
        }
        return false
    }
}
