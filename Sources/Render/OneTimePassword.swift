// The one-time password that opens an OTP-mode PDF, and the short non-secret id that says
// which password belongs to which PDF. Both come from a CSPRNG (SystemRandomNumberGenerator:
// getrandom(2) on Linux) and use an alphabet without look-alikes (no 0/o, 1/l).

public enum OneTimePassword {
    /// 32 symbols, so each one is exactly 5 bits and no modulo bias can arise: the lower-case
    /// letters without l and o, and the digits 2 to 9.
    public static let alphabet: [Character] = Array("abcdefghijkmnpqrstuvwxyz23456789")
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
        grouped(symbols(symbolCount, using: &rng), size: groupSize)
    }

    /// A new password id, e.g. "P-7Q2K-9D": 30 random bits, upper-case so it cannot be
    /// mistaken for a password. It identifies; it protects nothing.
    public static func newID() -> String {
        var rng = SystemRandomNumberGenerator()
        return newID(using: &rng)
    }

    public static func newID<G: RandomNumberGenerator>(using rng: inout G) -> String {
        let s = symbols(6, using: &rng).uppercased()
        return "P-" + s.prefix(4) + "-" + s.suffix(2)
    }

    static func symbols<G: RandomNumberGenerator>(_ count: Int, using rng: inout G) -> String {
        var out = ""
        out.reserveCapacity(count)
        var pool: UInt64 = 0
        var poolBits = 0
        for _ in 0..<count {
            if poolBits < 5 {
                pool = rng.next()
                poolBits = 64
            }
            out.append(alphabet[Int(pool & 31)])
            pool >>= 5
            poolBits -= 5
        }
        return out
    }

    static func grouped(_ s: String, size: Int) -> String {
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && i % size == 0 { out.append("-") }
            out.append(c)
        }
        return out
    }
}
