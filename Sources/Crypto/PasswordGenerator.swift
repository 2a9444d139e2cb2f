// First-contact passwords (DESIGN §5): strong, and easy to read aloud or copy from a note,
// since the envelope's sender passes them on out of band, like a PIN.
public enum PasswordGenerator {
    /// 32 symbols: lower-case letters without l and o, and the digits 2-9 (no 0 or 1), so
    /// nothing is mistaken for something else. 5 bits per symbol; 256 is a multiple of 32,
    /// so a random byte modulo 32 is uniform.
    public static let alphabet: [UInt8] = Array("abcdefghijkmnpqrstuvwxyz23456789".utf8)

    /// `groups` groups of `groupLength` symbols joined by "-": the default 4 x 5 gives
    /// 100 bits, e.g. "k7mq2-xw9fa-3hpte-uc48n".
    public static func generate(groups: Int = 4, groupLength: Int = 5) -> String {
        precondition(groups > 0 && groupLength > 0)
        let random = SecureRandom.bytes(groups * groupLength)
        var out: [UInt8] = []
        for (i, byte) in random.enumerated() {
            if i > 0, i % groupLength == 0 { out.append(UInt8(ascii: "-")) }
            out.append(alphabet[Int(byte % 32)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bits of entropy of a password made with these parameters.
    public static func strength(groups: Int = 4, groupLength: Int = 5) -> Int { groups * groupLength * 5 }
}
