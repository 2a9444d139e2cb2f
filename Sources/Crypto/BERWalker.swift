// Reads just enough of a CMS ContentInfo to find its content-encryption algorithm.
// OpenSSL 3.0 has no public getter for EncryptedContentInfo.contentEncryptionAlgorithm, and
// the algorithm must be judged before decryption: RC2 (RFC 4134 5.2) would otherwise only
// fail as "unsupported" instead of as a weak algorithm. Streaming encoders (`openssl cms
// -encrypt`) emit indefinite-length BER, so both length forms are handled.

struct BERElement {
    let start: Int
    let tag: UInt8          // identifier octet (low-tag-number form only; CMS needs no more)
    let contentStart: Int
    let contentEnd: Int     // for indefinite length: where the end-of-contents octets start
    let end: Int            // first byte after the element
}

package struct BERWalker {
    let bytes: [UInt8]
    private static let maxDepth = 32

    struct Malformed: Error {}

    /// The element that starts at `offset`, bounded by `limit`.
    func element(at offset: Int, limit: Int, depth: Int = 0) throws -> BERElement {
        guard depth < Self.maxDepth, offset + 2 <= limit else { throw Malformed() }
        let tag = bytes[offset]
        guard tag & 0x1f != 0x1f else { throw Malformed() }
        var p = offset + 1
        let first = bytes[p]
        p += 1
        if first == 0x80 {
            // Indefinite length: constructed only; children until the 00 00 marker.
            guard tag & 0x20 != 0 else { throw Malformed() }
            var child = p
            while true {
                guard child + 2 <= limit else { throw Malformed() }
                if bytes[child] == 0, bytes[child + 1] == 0 {
                    return BERElement(start: offset, tag: tag, contentStart: p, contentEnd: child, end: child + 2)
                }
                child = try element(at: child, limit: limit, depth: depth + 1).end
            }
        }
        var length = 0
        if first & 0x80 == 0 {
            length = Int(first)
        } else {
            let count = Int(first & 0x7f)
            guard count >= 1, count <= 4, p + count <= limit else { throw Malformed() }
            for _ in 0..<count {
                length = (length << 8) | Int(bytes[p])
                p += 1
            }
        }
        guard p + length <= limit else { throw Malformed() }
        return BERElement(start: offset, tag: tag, contentStart: p, contentEnd: p + length, end: p + length)
    }

    /// The children of a constructed element, in order.
    func children(of parent: BERElement) throws -> [BERElement] {
        var out: [BERElement] = []
        var p = parent.contentStart
        while p < parent.contentEnd {
            let child = try element(at: p, limit: parent.contentEnd)
            out.append(child)
            p = child.end
        }
        return out
    }

    /// ContentInfo -> [0] -> (Auth)EnvelopedData -> (Auth)EncryptedContentInfo ->
    /// contentEncryptionAlgorithm -> algorithm OID; returns the OID's full DER encoding.
    /// RFC 5652 §6.1 and RFC 5083 §2.1 give the same shape for both structures.
    package static func contentEncryptionOID(in der: [UInt8]) throws -> [UInt8] {
        let w = BERWalker(bytes: der)
        let contentInfo = try w.element(at: 0, limit: der.count)
        let ciChildren = try w.children(of: contentInfo)
        guard ciChildren.count >= 2, ciChildren[1].tag == 0xa0 else { throw Malformed() }
        guard let enveloped = try w.children(of: ciChildren[1]).first, enveloped.tag == 0x30 else {
            throw Malformed()
        }
        // version INTEGER, originatorInfo [0] OPTIONAL, recipientInfos SET, encryptedContentInfo
        let fields = try w.children(of: enveloped).filter { $0.tag != 0xa0 }
        guard fields.count >= 3, fields[0].tag == 0x02, fields[1].tag == 0x31, fields[2].tag == 0x30 else {
            throw Malformed()
        }
        let eci = try w.children(of: fields[2])
        guard eci.count >= 2, eci[1].tag == 0x30 else { throw Malformed() }
        guard let oid = try w.children(of: eci[1]).first, oid.tag == 0x06 else { throw Malformed() }
        return Array(der[oid.start..<oid.end])
    }
}

extension BERWalker {
    /// The same SignedData ContentInfo without its `certificates` and `crls` fields.
    ///
    /// The tunnel trusts only pinned certificates (CMS_NOINTERN), so certificates carried
    /// in the message are never used; dropping them before OpenSSL parses the structure
    /// spares decoding attacker-supplied certificates (less attack surface) and, with
    /// OpenSSL 3.0's provider-based key decoding, about a third of the verification time.
    /// RFC 5652 §5.1: SignedData ::= SEQUENCE { version, digestAlgorithms SET,
    /// encapContentInfo, certificates [0] IMPLICIT OPTIONAL, crls [1] IMPLICIT OPTIONAL,
    /// signerInfos SET }. Returns nil when the input does not have that shape.
    package static func signedDataWithoutCertificates(_ der: [UInt8]) -> [UInt8]? {
        let w = BERWalker(bytes: der)
        guard let contentInfo = try? w.element(at: 0, limit: der.count), contentInfo.tag == 0x30,
              let ci = try? w.children(of: contentInfo), ci.count == 2, ci[0].tag == 0x06, ci[1].tag == 0xa0,
              let explicit = try? w.children(of: ci[1]), explicit.count == 1, explicit[0].tag == 0x30,
              let fields = try? w.children(of: explicit[0]) else { return nil }
        let kept = fields.filter { $0.tag != 0xa0 && $0.tag != 0xa1 }
        guard kept.count == 4, kept[0].tag == 0x02, kept[1].tag == 0x31, kept[2].tag == 0x30, kept[3].tag == 0x31 else {
            return nil
        }
        if kept.count == fields.count { return der }
        var signedData: [UInt8] = []
        for f in kept { signedData += der[f.start..<f.end] }
        let inner = encode(tag: 0x30, signedData)
        let body = Array(der[ci[0].start..<ci[0].end]) + encode(tag: 0xa0, inner)
        return encode(tag: 0x30, body)
    }

    /// A definite-length encoding (X.690 §8.1.3).
    static func encode(tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [tag]
        let n = content.count
        if n < 0x80 {
            out.append(UInt8(n))
        } else {
            var bytes: [UInt8] = []
            var v = n
            while v > 0 {
                bytes.insert(UInt8(v & 0xff), at: 0)
                v >>= 8
            }
            out.append(0x80 | UInt8(bytes.count))
            out += bytes
        }
        return out + content
    }
}
