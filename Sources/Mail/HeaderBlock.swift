// The top-level header of a message as bytes, for the gateway filter (issue 7): it reads the
// fields (unfolded, RFC 2047 decoded) without parsing the body, and makes the two edits the
// filter needs while leaving every other byte as it was: a new field put in front (a trace
// field), and one field's value replaced (the subject with its tag removed).

public struct HeaderBlock: Sendable {
    public struct Field: Sendable {
        public let name: String
        /// The raw value, unfolded (line breaks inside it removed), not decoded.
        public let rawValue: String
        /// Where the whole field, its line ending included, lies in the message.
        let range: Range<Int>
    }

    public let fields: [Field]
    /// "\r\n" or "\n", as the message's first line ends.
    public let lineEnding: String
    private let bytes: [UInt8]

    public init(_ message: [UInt8]) {
        bytes = message
        lineEnding = Self.firstLineEnding(message)
        fields = Self.scan(message)
    }

    /// The first field with this name (any case), decoded: RFC 2047 encoded words turned
    /// into text, surrounding spaces trimmed.
    public func decodedValue(_ name: String) -> String? {
        fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map { Self.decode($0.rawValue) }
    }

    /// Every field as (name, decoded value), in order.
    public var decodedFields: [(name: String, value: String)] {
        fields.map { ($0.name, Self.decode($0.rawValue)) }
    }

    /// The message with `name: value` put in front of it.
    public func prepending(_ name: String, _ value: String) -> [UInt8] {
        Array("\(name): \(HeaderText.clean(value))\(lineEnding)".utf8) + bytes
    }

    /// The message with the first field of this name holding `text` instead (encoded as RFC
    /// 2047 words when it is not plain ASCII, folded), every other byte unchanged. Unchanged
    /// when there is no such field.
    public func replacingValue(of name: String, with text: String) -> [UInt8] {
        guard let field = fields.first(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) else { return bytes }
        let line = Self.folded(name: field.name, value: Self.encode(HeaderText.clean(text)), lineEnding: lineEnding)
        return Array(bytes[..<field.range.lowerBound]) + Array(line.utf8) + Array(bytes[field.range.upperBound...])
    }

    // MARK: - Reading

    private static func firstLineEnding(_ b: [UInt8]) -> String {
        guard let lf = b.firstIndex(of: 0x0A) else { return "\r\n" }
        return lf > 0 && b[lf - 1] == 0x0D ? "\r\n" : "\n"
    }

    /// Fields up to the first empty line (or the end). A line that is neither a field nor a
    /// continuation ends the header, as it would for a reader.
    private static func scan(_ b: [UInt8]) -> [Field] {
        var fields: [Field] = []
        var current: (name: String, start: Int, value: [UInt8])?
        var i = 0
        func flush(at end: Int) {
            if let c = current {
                fields.append(Field(name: c.name, rawValue: String(decoding: c.value, as: UTF8.self), range: c.start..<end))
            }
            current = nil
        }
        while i < b.count {
            let lineStart = i
            let lineEnd = b[i...].firstIndex(of: 0x0A).map { $0 + 1 } ?? b.count
            var content = b[lineStart..<lineEnd]
            while let last = content.last, last == 0x0A || last == 0x0D { content = content.dropLast() }
            if content.isEmpty { break }
            if content.first == 0x20 || content.first == 0x09 {
                guard current != nil else { break }
                current!.value += content
            } else if let colon = content.firstIndex(of: 0x3A), colon > content.startIndex,
                      content[content.startIndex..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
                flush(at: lineStart)
                var value = content[(colon + 1)...]
                if value.first == 0x20 { value = value.dropFirst() }
                current = (String(decoding: content[content.startIndex..<colon], as: UTF8.self), lineStart, Array(value))
            } else {
                break
            }
            i = lineEnd
        }
        flush(at: i)
        return fields
    }

    /// A field's raw value as text: unfolded, encoded words decoded, ends trimmed.
    static func decode(_ raw: String) -> String {
        let unfolded = raw.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" })
            ? String(raw.unicodeScalars.filter { $0 != "\r" && $0 != "\n" }) : raw
        return EncodedWords.decode(unfolded).trimmingWhitespace()
    }

    // MARK: - Writing

    /// Plain printable ASCII as it is; anything else, or text that would read as an encoded
    /// word, as Q-encoded words.
    private static func encode(_ text: String) -> String {
        let plain = text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F } && !text.contains("=?")
        return plain ? text : EncodedWords.encode(text)
    }

    /// `Name: value` folded at spaces so that lines stay near 78 characters.
    private static func folded(name: String, value: String, lineEnding: String) -> String {
        var out = "\(name):"
        var lineLength = out.count
        for word in value.split(separator: " ", omittingEmptySubsequences: false) {
            if lineLength + 1 + word.count > 78 && lineLength > name.count + 1 {
                out += lineEnding
                lineLength = 0
            }
            out += " " + word
            lineLength += 1 + word.count
        }
        return out + lineEnding
    }
}
