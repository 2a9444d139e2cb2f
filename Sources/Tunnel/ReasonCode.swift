// Why a tunnel file was quarantined: the codes of DESIGN §3, written as the first line of
// spool/failed/NAME.reason. Tests compare codes, people read the sentence.
import Crypto

public enum ReasonCode: String, Sendable, CaseIterable, Codable {
    case tooLarge = "too-large"
    case wrongAddress = "wrong-address"
    case notEncrypted = "not-encrypted"
    case decryptFailed = "decrypt-failed"
    case weakAlgorithm = "weak-algorithm"
    case notSigned = "not-signed"
    case signatureInvalid = "signature-invalid"
    case signerNotTrusted = "signer-not-trusted"
    case malformedEnvelope = "malformed-envelope"
    case replay = "replay"
    case expired = "expired"
    case malformedMIME = "malformed-mime"
    /// The message passed intake but could not be rendered into its mailboxes: at once for
    /// an error about its content, after spool.max_attempts sweeps for one that may pass.
    case renderFailed = "render-failed"

    package init(_ failure: TunnelFailure) {
        // The crypto layer's failures are a subset of the spool's codes, spelled the same.
        self = ReasonCode(rawValue: failure.rawValue)!
    }
}

/// A quarantine decision: a code and one human sentence (never message content).
public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: ReasonCode
    public let sentence: String

    public init(_ code: ReasonCode, _ sentence: String) {
        self.code = code
        self.sentence = sentence
    }

    public var description: String { "\(code.rawValue): \(sentence)" }

    /// The .reason file: the code alone on the first line, then the sentence; when the file
    /// was quarantined under a shortened name, a last line names the spool file it was.
    package func reasonFile(spoolName: String? = nil) -> String {
        "\(code.rawValue)\n\(sentence)\n" + (spoolName.map { "spool-name: \($0)\n" } ?? "")
    }
}
