// The one-time password and password id of each OTP-mode PDF (DESIGN §7): one pair per
// message and recipient. They are derived with HKDF from a key made from the outbox key,
// never stored: rendering the message again (a re-sweep, `reprocess`) gives the same pair, so
// the portal keeps showing the password that opens the PDF already mailed, and nothing in
// the state store holds it. Without the key, the derivation output is indistinguishable from
// random bytes, and OneTimePassword turns 80 of those bits into the password.
import Foundation
import Crypto
import Render

struct OTPCredentials: Sendable, Equatable {
    /// Shown in the mail and in the portal, next to the password; protects nothing.
    let passwordID: String
    /// Opens the PDF. Only ever inside the recipient's sealed mailbox.
    let password: String
}

struct OTPPasswords: Sendable {
    private let key: [UInt8]

    init(key: OutboxKey) throws { self.key = try key.derived("otp-pdf") }

    func credentials(envelopeID: String, address: String) throws -> OTPCredentials {
        func stream(_ purpose: String) throws -> DerivedRandom {
            DerivedRandom(try HKDF.sha256(ikm: key, salt: [], info: Array("\(purpose)|\(envelopeID)|\(address)".utf8), length: 32))
        }
        var forPassword = try stream("password")
        var forID = try stream("password-id")
        return OTPCredentials(passwordID: OneTimePassword.newID(using: &forID),
                              password: OneTimePassword.generate(using: &forPassword))
    }
}

/// A generator over a fixed run of derived bytes: 32 bytes give four draws, and the password
/// takes two (80 bits), its id one.
private struct DerivedRandom: RandomNumberGenerator {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func next() -> UInt64 {
        precondition(offset + 8 <= bytes.count, "derived randomness exhausted")
        defer { offset += 8 }
        return bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }
}
