// Step 2 of the sweep: every check of DESIGN §4 on one tunnel file's bytes, from the outer
// headers to the envelope. Pure with respect to the spool and the state store: the replay
// check against earlier sweeps happens when the batch is recorded.
import Foundation
import Crypto
import Mail

/// What intake learned from an accepted tunnel file. Holds no plaintext beyond the
/// envelope's metadata; the payload stays in memory for the later steps.
public struct AcceptedTunnel: Sendable {
    public let envelope: TunnelEnvelope
    public let original: [UInt8]
    public let signerFingerprint: String
    public let contentEncryption: String
    public let signatureDigest: String

    /// The same, without the original's bytes: what the sweep keeps once they are sealed.
    package func withoutOriginal() -> AcceptedTunnel {
        AcceptedTunnel(envelope: envelope, original: [], signerFingerprint: signerFingerprint,
                       contentEncryption: contentEncryption, signatureDigest: signatureDigest)
    }
}

public struct Intake: Sendable {
    public let recipientAddress: String
    public let senderAddress: String
    public let maxAge: TimeInterval
    public let opener: TunnelOpener
    /// How far in the future `created` may lie (clock skew between gateway and portal).
    public static let allowedFutureSkew: TimeInterval = 5 * 60

    public init(recipientAddress: String, senderAddress: String, maxAgeDays: Int, opener: TunnelOpener) {
        self.recipientAddress = recipientAddress
        self.senderAddress = senderAddress
        self.maxAge = TimeInterval(maxAgeDays) * 86_400
        self.opener = opener
    }

    /// `bytes` is consumed: a caller that hands over its only reference (`consume`) lets
    /// intake free each layer of a large message as soon as the next one is out of it.
    public func check(_ bytes: consuming [UInt8], now: Date) -> Result<AcceptedTunnel, Rejection> {
        do throws(Rejection) {
            return .success(try accept(consume bytes, now: now))
        } catch {
            return .failure(error)
        }
    }

    // Each layer is let go (`consume`) once the next one is out of it, so that a message of
    // tens of MB is in memory about twice at any moment rather than five or six times: the
    // file, its decoded S/MIME body, the decrypted entity, the signed content, the original.
    private func accept(_ bytes: consuming [UInt8], now: Date) throws(Rejection) -> AcceptedTunnel {
        let der = try smimeBody(consume bytes)

        let decrypted: DecryptedTunnel
        switch opener.decrypt(der: consume der) {
        case .success(let d): decrypted = d
        case .failure(let rejection): throw Rejection(ReasonCode(rejection.failure), sentence(for: rejection))
        }
        let contentEncryption = decrypted.contentEncryption
        let signed: SignedEntity
        do { signed = try SignedEntity.parse(decrypted.content) } catch {
            throw Rejection(.notSigned, "The tunnel message is encrypted but not signed: \(error).")
        }
        _ = consume decrypted
        let verified: VerifiedContent
        switch opener.verify(signature: signed.signature, detachedContent: signed.detachedContent) {
        case .success(let v): verified = v
        case .failure(let rejection): throw Rejection(ReasonCode(rejection.failure), sentence(for: rejection))
        }
        _ = consume signed

        let payload: TunnelPayload
        do { payload = try TunnelPayload.parse(verified.content) } catch {
            throw Rejection(.malformedEnvelope, "The signed content is not a tunnel payload: \(error).")
        }
        let signerFingerprint = verified.signerFingerprint, signatureDigest = verified.signatureDigest
        _ = consume verified
        guard let json = payload.envelope else {
            throw Rejection(.malformedEnvelope, "The signed content has no \(TunnelPayload.envelopeMediaType) part.")
        }
        let envelope = try TunnelEnvelope.parse(json)
        guard let original = payload.original, !original.isEmpty else {
            throw Rejection(.malformedEnvelope, "The signed content has no message/rfc822 part.")
        }
        if envelope.created < now.addingTimeInterval(-maxAge) {
            throw Rejection(.expired, "The envelope was created \(TunnelEnvelope.formatTime(envelope.created)), more than \(Int(maxAge / 86_400)) days ago.")
        }
        if envelope.created > now.addingTimeInterval(Self.allowedFutureSkew) {
            throw Rejection(.expired, "The envelope's creation time \(TunnelEnvelope.formatTime(envelope.created)) lies in the future.")
        }
        if let expires = envelope.expires, expires <= now {
            throw Rejection(.expired, "The envelope expired at \(TunnelEnvelope.formatTime(expires)).")
        }
        return AcceptedTunnel(envelope: envelope, original: original, signerFingerprint: signerFingerprint,
                              contentEncryption: contentEncryption, signatureDigest: signatureDigest)
    }

    /// The outer message's checks (DESIGN §4: addresses, S/MIME enveloped data); returns its
    /// decoded body, the DER of the CMS structure.
    private func smimeBody(_ bytes: consuming [UInt8]) throws(Rejection) -> [UInt8] {
        let outer: OuterTunnelMessage
        do { outer = try OuterTunnelMessage.parse(bytes) } catch {
            throw Rejection(.malformedMIME, "The file is not an RFC 5322 message: \(error).")
        }
        guard outer.from.count == 1, outer.from[0] == senderAddress else {
            let seen = outer.from.isEmpty ? "no From address" : "From \(outer.from.joined(separator: ", "))"
            throw Rejection(.wrongAddress, "The tunnel message has \(seen); only \(senderAddress) may send tunnel mail.")
        }
        guard outer.to.contains(recipientAddress) else {
            throw Rejection(.wrongAddress, "The tunnel message is not addressed to \(recipientAddress).")
        }
        guard outer.isEnvelopedSMIME, !outer.body.isEmpty else {
            throw Rejection(.notEncrypted, "The tunnel message is \(outer.mediaType)\(outer.smimeType.map { "; smime-type=\($0)" } ?? ""), not S/MIME enveloped data.")
        }
        return outer.body
    }

    private func sentence(for rejection: TunnelRejection) -> String {
        let lead: String
        switch rejection.failure {
        case .notEncrypted: lead = "The tunnel message is not encrypted"
        case .decryptFailed: lead = "The tunnel message could not be decrypted"
        case .weakAlgorithm: lead = "The tunnel message uses a refused algorithm"
        case .notSigned: lead = "The tunnel message is encrypted but not signed"
        case .signatureInvalid: lead = "The signature of the tunnel message is invalid"
        case .signerNotTrusted: lead = "The tunnel message was not signed by a pinned gateway certificate"
        }
        return "\(lead): \(rejection.detail)."
    }
}
