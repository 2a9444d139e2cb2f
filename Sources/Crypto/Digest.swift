// SHA-256 through libcrypto, for file digests and certificate fingerprints.
import Foundation
internal import COpenSSL

public enum SHA256 {
    public static func hash<Bytes: ContiguousBytes>(_ data: Bytes) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        data.withUnsafeBytes { raw in
            _ = EVP_Digest(raw.baseAddress, raw.count, &out, nil, EVP_sha256(), nil)
        }
        return out
    }

    public static func hex<Bytes: ContiguousBytes>(_ data: Bytes) -> String {
        Hex.encode(hash(data))
    }
}

public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
