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
}

public struct Intake: Sendable {
    public let recipientAddress: String
    public let senderAddress: String
    public let maxAge: TimeInterval
    public let opener: TunnelOpener
    /// How far in the future `created` may lie (clock skew between gateway and portal).
    public static let allowedFutureSkew: TimeInterval = 5 * 60

    public init(config: SpoolrunConfig, opener: TunnelOpener) {
        self.recipientAddress = config.recipientAddress
        self.senderAddress = config.senderAddress
        self.maxAge = TimeInterval(config.maxAgeDays) * 86_400
        self.opener = opener
    }

    public func check(_ bytes: [UInt8], now: Date) -> Result<AcceptedTunnel, Rejection> {
        do throws(Rejection) {
            return .success(try accept(bytes, now: now))
        } catch {
            return .failure(error)
        }
    }

    private func accept(_ bytes: [UInt8], now: Date) throws(Rejection) -> AcceptedTunnel {
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

        let decrypted: DecryptedTunnel
        switch opener.decrypt(der: outer.body) {
        case .success(let d): decrypted = d
        case .failure(let rejection): throw Rejection(ReasonCode(rejection.failure), sentence(for: rejection))
        }
        let signed: SignedEntity
        do { signed = try SignedEntity.parse(decrypted.content) } catch {
            throw Rejection(.notSigned, "The tunnel message is encrypted but not signed: \(error).")
        }
        let verified: VerifiedContent
        switch opener.verify(signature: signed.signature, detachedContent: signed.detachedContent) {
        case .success(let v): verified = v
        case .failure(let rejection): throw Rejection(ReasonCode(rejection.failure), sentence(for: rejection))
        }

        let payload: TunnelPayload
        do { payload = try TunnelPayload.parse(verified.content) } catch {
            throw Rejection(.malformedEnvelope, "The signed content is not a tunnel payload: \(error).")
        }
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
        return AcceptedTunnel(envelope: envelope, original: original, signerFingerprint: verified.signerFingerprint,
                              contentEncryption: decrypted.contentEncryption, signatureDigest: verified.signatureDigest)
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
