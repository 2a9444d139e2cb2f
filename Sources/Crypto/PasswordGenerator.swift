// The one generator of passwords people read and type: first-contact passwords (DESIGN §5),
// passed on out of band like a PIN, and the one-time passwords of OTP PDFs and their ids
// (DESIGN §7, Render's OneTimePassword). One alphabet, groups joined by "-".
public enum PasswordGenerator {
    /// 32 symbols: lower-case letters without l and o, and the digits 2-9 (no 0 or 1), so
    /// nothing is mistaken for something else. Exactly 5 bits per symbol, so no modulo bias.
    public static let alphabet: [UInt8] = Array("abcdefghijkmnpqrstuvwxyz23456789".utf8)

    /// `groups` groups of `groupLength` symbols joined by "-", from the system's CSPRNG
    /// (OpenSSL's RAND_bytes): the default 4 x 5 gives 100 bits, e.g. "k7mq2-xw9fa-3hpte-uc48n".
    public static func generate(groups: Int = 4, groupLength: Int = 5) -> String {
        precondition(groups > 0 && groupLength > 0)
        var random = SecureRandomGenerator()
        return generate(groups: Array(repeating: groupLength, count: groups), using: &random)
    }

    /// Groups of the given sizes joined by "-", upper-case if asked. Each symbol takes the
    /// next 5 bits of `random`, low bits first, 12 symbols from each 64-bit draw: OTP
    /// passwords are derived again from the same bits (Spool's OTPPasswords), so this order
    /// must never change.
    public static func generate<G: RandomNumberGenerator>(groups: [Int], uppercase: Bool = false,
                                                          using random: inout G) -> String {
        precondition(!groups.isEmpty && groups.allSatisfy { $0 > 0 })
        var out: [UInt8] = []
        out.reserveCapacity(groups.reduce(groups.count - 1, +))
        var pool: UInt64 = 0
        var poolBits = 0
        for (g, length) in groups.enumerated() {
            if g > 0 { out.append(UInt8(ascii: "-")) }
            for _ in 0..<length {
                if poolBits < 5 {
                    pool = random.next()
                    poolBits = 64
                }
                let symbol = alphabet[Int(pool & 31)]
                out.append(uppercase && symbol >= UInt8(ascii: "a") ? symbol - 0x20 : symbol)
                pool >>= 5
                poolBits -= 5
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bits of entropy of a password made with these parameters.
    public static func strength(groups: Int = 4, groupLength: Int = 5) -> Int { groups * groupLength * 5 }
}

/// SecureRandom (OpenSSL) as a RandomNumberGenerator.
struct SecureRandomGenerator: RandomNumberGenerator {
    mutating func next() -> UInt64 {
        SecureRandom.bytes(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
