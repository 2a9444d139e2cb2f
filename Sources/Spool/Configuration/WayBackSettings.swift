// The [portal] settings of the way back (DESIGN §12, docs/sealed-format.md §6-9): how a
// first contact gets its password, the second factor, self-service resets, and the limits on
// the requests that recipients' browsers leave in the drop folder.
import Foundation

public struct WayBackSettings: Sendable, Equatable {
    public enum FirstContact: String, Sendable, CaseIterable {
        /// The recipient chooses a password through a one-time link in their notification.
        case invite
        /// The envelope's password, else a generated one mailed to the envelope's sender.
        case sender
    }

    public enum SecondFactor: String, Sendable, CaseIterable {
        case optional, required, off
    }

    /// portal.first_contact. Absent, it stays "sender" (the behaviour before the way back),
    /// so that an upgrade changes nothing by itself; `spoolrun setup` writes "invite".
    public var firstContact: FirstContact = .sender
    /// portal.invite_days: an invitation link opens nothing after this many days.
    public var inviteDays: Int = 14
    /// portal.second_factor.
    public var secondFactor: SecondFactor = .optional
    /// portal.self_service_reset: "Forgot your password?" mails a new invitation.
    public var selfServiceReset: Bool = true
    /// portal.request_max_kb: the largest request file nginx accepts and the sweep reads.
    public var requestMaxBytes: Int = 64 * 1024
    /// portal.requests_per_hour: requests one mailbox may make in an hour.
    public var requestsPerHour: Int = 60

    public init() {}

    static func read(_ portal: ConfigReader) throws -> WayBackSettings {
        var s = WayBackSettings()
        if let word = try portal.string("first_contact") {
            guard let value = FirstContact(rawValue: word) else {
                throw portal.error("first_contact", "must be \"invite\" or \"sender\", not \"\(word)\"")
            }
            s.firstContact = value
        }
        s.inviteDays = try portal.int("invite_days", range: 1...365) ?? s.inviteDays
        if let word = try portal.string("second_factor") {
            guard let value = SecondFactor(rawValue: word) else {
                throw portal.error("second_factor", "must be \"optional\", \"required\" or \"off\", not \"\(word)\"")
            }
            s.secondFactor = value
        }
        s.selfServiceReset = try portal.bool("self_service_reset") ?? s.selfServiceReset
        s.requestMaxBytes = (try portal.int("request_max_kb", range: 1...1024) ?? 64) * 1024
        s.requestsPerHour = try portal.int("requests_per_hour", range: 1...10_000) ?? s.requestsPerHour
        return s
    }
}
