// The one-time password that opens an OTP-mode PDF, and the short non-secret id that says
// which password belongs to which PDF: their formats. Crypto's PasswordGenerator makes both,
// from a CSPRNG (SystemRandomNumberGenerator: getrandom(2) on Linux) or from derived bits.
import Crypto

public enum OneTimePassword {
    /// 32 symbols, so each one is exactly 5 bits and no modulo bias can arise: the lower-case
    /// letters without l and o, and the digits 2 to 9.
    public static let alphabet: [Character] = PasswordGenerator.alphabet.map { Character(Unicode.Scalar($0)) }
    /// Symbols drawn per password: 16 x 5 = 80 bits.
    public static let symbolCount = 16
    /// The password's strength in bits.
    public static let bits = symbolCount * 5
    /// Symbols per group; groups are joined by "-", which is part of the password.
    public static let groupSize = 4

    /// A new password, e.g. "k7mq-2xa9-pfz4-e8nc".
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        return generate(using: &rng)
    }

    public static func generate<G: RandomNumberGenerator>(using rng: inout G) -> String {
        PasswordGenerator.generate(groups: Array(repeating: groupSize, count: symbolCount / groupSize), using: &rng)
    }

    /// A new password id, e.g. "P-7Q2K-9D": 30 random bits, upper-case so it cannot be
    /// mistaken for a password. It identifies; it protects nothing.
    public static func newID() -> String {
        var rng = SystemRandomNumberGenerator()
        return newID(using: &rng)
    }

    public static func newID<G: RandomNumberGenerator>(using rng: inout G) -> String {
        "P-" + PasswordGenerator.generate(groups: [4, 2], uppercase: true, using: &rng)
    }
}
