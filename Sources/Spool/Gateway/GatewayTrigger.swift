// How a message says "encrypt me" or "as an OTP PDF" to the gateway (issue 7, gateway.toml's
// `mandatory` and `otp_pdf`): a subject tag such as "[secure]" (removed from the subject the
// recipient sees), a header such as "X-Encrypt: mandatory", or "always". Matching is
// case-insensitive and works on the decoded subject, so a tag inside an RFC 2047 encoded
// word counts (the caller decodes: Mail's MessageParser gives the subject as text).
import Foundation

public enum GatewayTrigger: Sendable, Equatable {
    case subjectTag(String)
    /// A header by name, with this value (compared without case and surrounding spaces),
    /// or with any value when nil.
    case header(name: String, value: String?)
    case always

    /// `"always"`, `"subject:[secure]"` or `"header:X-Encrypt: mandatory"` (`"header:X-Encrypt"`
    /// for any value), as gateway.toml writes them.
    public static func parse(_ text: String) -> GatewayTrigger? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.lowercased() == "always" { return .always }
        if t.lowercased().hasPrefix("subject:") {
            let tag = String(t.dropFirst("subject:".count)).trimmingCharacters(in: .whitespaces)
            return tag.isEmpty ? nil : .subjectTag(tag)
        }
        if t.lowercased().hasPrefix("header:") {
            let spec = t.dropFirst("header:".count)
            let parts = spec.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard let name = parts.first, !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else { return nil }
            return .header(name: name, value: parts.count > 1 && !parts[1].isEmpty ? parts[1] : nil)
        }
        return nil
    }

    /// Whether a message with this (decoded) subject and these header fields asks for it.
    public func matches(subject: String?, headers: [(name: String, value: String)]) -> Bool {
        switch self {
        case .always:
            return true
        case .subjectTag(let tag):
            return subject.map { $0.range(of: tag, options: [.caseInsensitive]) != nil } ?? false
        case .header(let name, let value):
            return headers.contains { h in
                h.name.caseInsensitiveCompare(name) == .orderedSame
                    && (value.map { h.value.trimmingCharacters(in: .whitespaces).caseInsensitiveCompare($0) == .orderedSame } ?? true)
            }
        }
    }

    /// The subject the recipient sees: a subject tag taken out (each occurrence, any case),
    /// spaces around it closed up. Other triggers leave it as it is.
    public func strippingTag(from subject: String) -> String {
        guard case .subjectTag(let tag) = self else { return subject }
        var s = subject
        while let r = s.range(of: tag, options: [.caseInsensitive]) { s.replaceSubrange(r, with: " ") }
        return s.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }
}
