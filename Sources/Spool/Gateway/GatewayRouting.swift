// The gateway side's routing decision (issue 7), per recipient: pass the message through
// for normal delivery, or send it to the webmail portal through the tunnel, as CipherMail's
// webmail settings decide (Enabled, Only if mandatory, OTP enabled, Read receipt). A pure
// function: the filter works out the facts (is encryption mandatory, can this recipient
// receive encrypted mail directly, was an OTP PDF asked for), this decides.
import Tunnel

/// The webmail settings of gateway.toml's [gateway] section that routing depends on.
public struct GatewayRoutingSettings: Sendable, Equatable {
    public var enabled: Bool
    public var onlyIfMandatory: Bool
    public var otpEnabled: Bool
    public var readReceipt: ReadReceiptPolicy

    public init(enabled: Bool, onlyIfMandatory: Bool, otpEnabled: Bool, readReceipt: ReadReceiptPolicy) {
        self.enabled = enabled
        self.onlyIfMandatory = onlyIfMandatory
        self.otpEnabled = otpEnabled
        self.readReceipt = readReceipt
    }
}

/// `read_receipt`: never, for every webmail message, or when the message asks for one
/// (a Disposition-Notification-To header).
public enum ReadReceiptPolicy: String, Sendable, Equatable, CaseIterable {
    case never = "false"
    case always = "true"
    case whenAsked = "when-asked"
}

/// What the filter found out about the message.
public struct MessageTraits: Sendable, Equatable {
    /// Encryption is mandatory (the subject tag, the header, or `mandatory = "always"`);
    /// otherwise it is merely allowed.
    public var encryptionMandatory: Bool
    /// The message asks for OTP-PDF delivery (the `otp_pdf` tag or header).
    public var otpRequested: Bool
    /// It carries a Disposition-Notification-To header.
    public var asksForReadReceipt: Bool

    public init(encryptionMandatory: Bool, otpRequested: Bool, asksForReadReceipt: Bool) {
        self.encryptionMandatory = encryptionMandatory
        self.otpRequested = otpRequested
        self.asksForReadReceipt = asksForReadReceipt
    }
}

public enum GatewayRoute: Sendable, Equatable {
    /// Normal delivery, unchanged; `gatewayPDF`: marked for the gateway's own PDF encryption.
    case passThrough(gatewayPDF: Bool)
    /// Through the tunnel to the portal.
    case webmail(delivery: TunnelEnvelope.Delivery, readReceipt: Bool)
}

public enum GatewayRouting {
    /// The route for one recipient. `directCapable`: the recipient can already receive
    /// encrypted mail (S/MIME, PGP or PDF) and is listed in `direct_recipients`.
    public static func route(_ s: GatewayRoutingSettings, _ m: MessageTraits, directCapable: Bool) -> GatewayRoute {
        guard s.enabled else { return .passThrough(gatewayPDF: false) }
        // The recipient's own encryption wins: nothing to do for the portal.
        if directCapable { return .passThrough(gatewayPDF: false) }
        let receipt = s.readReceipt == .always || (s.readReceipt == .whenAsked && m.asksForReadReceipt)
        if m.otpRequested {
            // An OTP PDF is a request to encrypt: only_if_mandatory does not apply to it.
            return s.otpEnabled ? .webmail(delivery: .otpPDF, readReceipt: receipt) : .passThrough(gatewayPDF: true)
        }
        if m.encryptionMandatory || !s.onlyIfMandatory { return .webmail(delivery: .webmail, readReceipt: receipt) }
        return .passThrough(gatewayPDF: false)
    }
}
