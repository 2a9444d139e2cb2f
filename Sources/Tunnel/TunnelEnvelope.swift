// The envelope (manifest) inside a tunnel payload, and its checks (DESIGN §4). Passwords
// are kept only in memory: they are never logged and never reach the state store.
import Foundation

public struct TunnelEnvelope: Sendable, Equatable {
    public enum Delivery: String, Sendable, Codable { case webmail, otpPDF = "otp-pdf" }

    public var id: String
    public var created: Date
    public var sender: String
    public var recipients: [String]
    public var readReceipt: Bool
    public var delivery: Delivery
    public var expires: Date?
    public var passwords: [String: String]

    public static let maxRecipients = 100

    public init(id: String, created: Date, sender: String, recipients: [String], readReceipt: Bool,
                delivery: Delivery, expires: Date? = nil, passwords: [String: String] = [:]) {
        self.id = id
        self.created = created
        self.sender = sender
        self.recipients = recipients
        self.readReceipt = readReceipt
        self.delivery = delivery
        self.expires = expires
        self.passwords = passwords
    }

    /// Parses and validates; every problem is a `malformed-envelope` naming the field (or,
    /// for a password under PasswordFloor, the address).
    public static func parse(_ json: [UInt8]) throws(Rejection) -> TunnelEnvelope {
        func bad(_ why: String) -> Rejection { Rejection(.malformedEnvelope, "The envelope \(why).") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)),
              let fields = object as? [String: Any] else {
            throw bad("is not a JSON object")
        }
        let known: Set<String> = ["version", "id", "created", "sender", "recipients", "read_receipt",
                                  "delivery", "expires", "passwords"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw bad("has an unknown field \"\(unknown)\"")
        }
        let raw: RawEnvelope
        do {
            raw = try JSONDecoder().decode(RawEnvelope.self, from: Data(json))
        } catch let DecodingError.typeMismatch(_, context) {
            throw bad("field \"\(context.codingPath.first?.stringValue ?? "?")\" has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw bad("field \"\(context.codingPath.first?.stringValue ?? "?")\" has the wrong type")
        } catch {
            throw bad("could not be read")
        }
        guard raw.version == 1 else { throw bad("field \"version\" is missing or not 1") }
        guard let id = raw.id else { throw bad("field \"id\" is missing") }
        guard isValidID(id) else { throw bad("field \"id\" must be 8-128 characters of A-Z a-z 0-9 . _ -") }
        guard let createdText = raw.created else { throw bad("field \"created\" is missing") }
        guard let created = parseTime(createdText).map(wholeSeconds) else { throw bad("field \"created\" is not an RFC 3339 time") }
        guard let senderRaw = raw.sender else { throw bad("field \"sender\" is missing") }
        guard EmailAddress.isValid(senderRaw) else { throw bad("field \"sender\" is not an email address") }
        guard let recipientsRaw = raw.recipients else { throw bad("field \"recipients\" is missing") }
        guard (1...maxRecipients).contains(recipientsRaw.count) else {
            throw bad("must name 1 to \(maxRecipients) recipients, not \(recipientsRaw.count)")
        }
        var recipients: [String] = []
        for (i, r) in recipientsRaw.enumerated() {
            guard EmailAddress.isValid(r) else { throw bad("recipient #\(i + 1) is not an email address") }
            let normalized = EmailAddress.normalize(r)
            if !recipients.contains(normalized) { recipients.append(normalized) }
        }
        guard let readReceipt = raw.read_receipt else { throw bad("field \"read_receipt\" is missing") }
        guard let deliveryText = raw.delivery, let delivery = Delivery(rawValue: deliveryText) else {
            throw bad("field \"delivery\" must be \"webmail\" or \"otp-pdf\"")
        }
        var expires: Date? = nil
        if let text = raw.expires {
            guard let date = parseTime(text).map(wholeSeconds) else {
                throw bad("field \"expires\" is not an RFC 3339 time")
            }
            expires = date
        }
        var passwords: [String: String] = [:]
        if let map = raw.passwords {
            // Sorted, so that an envelope with several weak passwords always names the same one.
            for (address, pw) in map.sorted(by: { $0.key < $1.key }) {
                let normalized = EmailAddress.normalize(address)
                guard recipients.contains(normalized) else {
                    throw bad("has a password for an address that is not a recipient")
                }
                guard !pw.isEmpty else {
                    throw bad("has an empty or non-text password")
                }
                if let weakness = PasswordFloor.weakness(of: pw, for: normalized) {
                    throw bad("has a password for \(normalized) that \(weakness)")
                }
                passwords[normalized] = pw
            }
        }
        return TunnelEnvelope(id: id, created: created, sender: EmailAddress.normalize(senderRaw),
                              recipients: recipients, readReceipt: readReceipt, delivery: delivery,
                              expires: expires, passwords: passwords)
    }

    /// The JSON that `spoolrun wrap` puts into the payload.
    public func json() -> [UInt8] {
        var object: [String: Any] = [
            "version": 1, "id": id, "created": Self.formatTime(created), "sender": sender,
            "recipients": recipients, "read_receipt": readReceipt, "delivery": delivery.rawValue,
        ]
        if let expires { object["expires"] = Self.formatTime(expires) }
        if !passwords.isEmpty { object["passwords"] = passwords }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return [UInt8](data)
    }

    package static func isValidID(_ id: String) -> Bool {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-".utf8)
        return (8...128).contains(id.utf8.count) && id.utf8.allSatisfy(allowed.contains)
    }

    /// RFC 3339 date-time (§5.6): `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`. Parsed by
    /// hand because ISO8601DateFormatter builds an ICU formatter per call, which cost more
    /// than the signature check in the intake profile.
    package static func parseTime(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= b.count else { return nil }
            var v = 0
            for k in at..<(at + count) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            return v
        }
        guard b.count >= 20, let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45,
              let day = digits(8, 2), b[10] == 84 || b[10] == 116, let hour = digits(11, 2), b[13] == 58,
              let minute = digits(14, 2), b[16] == 58, let second = digits(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var p = 19
        var fraction = 0.0
        if p < b.count, b[p] == 46 {
            p += 1
            var scale = 0.1
            let start = p
            while p < b.count, b[p] >= 48, b[p] <= 57 {
                fraction += Double(b[p] - 48) * scale
                scale /= 10
                p += 1
            }
            guard p > start else { return nil }
        }
        var offset = 0
        guard p < b.count else { return nil }
        if b[p] == 90 || b[p] == 122 {
            p += 1
        } else if b[p] == 43 || b[p] == 45, let oh = digits(p + 1, 2), p + 3 < b.count, b[p + 3] == 58,
                  let om = digits(p + 4, 2), oh < 24, om < 60 {
            offset = (oh * 3600 + om * 60) * (b[p] == 43 ? 1 : -1)
            p += 6
        } else {
            return nil
        }
        guard p == b.count else { return nil }
        // Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's civil
        // algorithm), then rejecting dates like 02-30 by converting back.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let daysInMonth = [31, (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= daysInMonth[month - 1] else { return nil }
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    package static func formatTime(_ date: Date) -> String { UTCTime.rfc3339(date) }

    /// The envelope's times are whole seconds, as formatTime writes them: a fraction is
    /// accepted and dropped, so that an envelope reads the same after being written again
    /// (found by fuzzing: "10:00:00.0888Z" was kept when read and lost when written).
    package static func wholeSeconds(_ date: Date) -> Date { Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)) }

    /// The JSON shape; types are enforced by the decoder, presence and values above.
    private struct RawEnvelope: Decodable {
        var version: Int?
        var id: String?
        var created: String?
        var sender: String?
        var recipients: [String]?
        // The envelope's JSON key (DESIGN §3), decoded by name.
        // swift-format-ignore: AlwaysUseLowerCamelCase
        var read_receipt: Bool?
        var delivery: String?
        var expires: String?
        var passwords: [String: String]?
    }
}
