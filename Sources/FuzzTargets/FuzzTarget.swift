// The fuzz targets of issue 8: each takes arbitrary bytes through one of spoolrun's readers of
// outside input and stops the process (preconditionFailure) when an oracle says the result
// is wrong; a crash, a hang or a sanitizer report is a finding by itself. libFuzzer drives
// them through `spoolrun-fuzz` (scripts/fuzz.sh, `make fuzz`); the regression test replays
// Tests/Fuzz/regressions/TARGET/* and a slice of the seed corpus through the same functions.
import Foundation
import Mail
import Render
import Spool
import Tunnel

public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A tunnel message from raw bytes to accepted or rejected (outer MIME, CMS decryption and
    /// signature with the installation's keys, payload, envelope).
    case intake
    /// The envelope JSON; what parses must survive being written and read again unchanged.
    case envelope
    /// The signed payload (envelope part and message/rfc822 part), then the original inside.
    case payload
    /// GMime's parser and our walk over the parts (MessageParser).
    case mime
    /// The HTML sanitizer, under both policies; the output must pass HTMLOracle.
    case sanitizer
    /// nginx's receipt-log lines, parsed line by line and read from a file with positions.
    case receiptLog = "receipt-log"

    /// The target named by $SPOOLRUN_FUZZ_TARGET (libFuzzer passes no arguments to it).
    public static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["SPOOLRUN_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            fatalError("set SPOOLRUN_FUZZ_TARGET to one of: \(names) (got \"\(name)\")")
        }
        return target
    }()

    public func run(_ bytes: [UInt8]) {
        switch self {
        case .intake: Self.intake(bytes)
        case .envelope: Self.envelope(bytes)
        case .payload: Self.payload(bytes)
        case .mime: Self.mime(bytes)
        case .sanitizer: Self.sanitizer(bytes)
        case .receiptLog: Self.receiptLog(bytes)
        }
    }

    // MARK: - Targets

    /// One installation per process (keys made by setup), in a temporary folder, made the
    /// first time the intake target runs.
    private static let installationDirectory = (NSTemporaryDirectory() as NSString).appendingPathComponent("spoolrun-fuzz-\(getpid())")

    private static let installation: (intake: Intake, directory: String) = {
        let dir = installationDirectory
        do {
            let inst = try Setup.run(SetupOptions(directory: dir))
            let config = try SpoolrunConfig.load(path: inst.config)
            return (Intake(config: config, opener: try KeyFiles.tunnelOpener(for: config)), dir)
        } catch {
            fatalError("the fuzz installation could not be set up in \(dir): \(error)")
        }
    }()

    /// Removes the installation if one was made (never makes one: this runs at exit too,
    /// where making it crashed the fuzzer once).
    public static func removeInstallation() {
        try? FileManager.default.removeItem(atPath: installationDirectory)
        try? FileManager.default.removeItem(atPath: Installation.defaultGateway(root: installationDirectory))
    }

    private static func intake(_ bytes: [UInt8]) {
        switch installation.intake.check(bytes, now: Date()) {
        case .success(let accepted):
            // Random bytes cannot be signed by the pinned gateway: acceptance is a finding.
            preconditionFailure("intake accepted fuzz input as a tunnel message from \(accepted.envelope.sender)")
        case .failure:
            break
        }
    }

    private static func envelope(_ bytes: [UInt8]) {
        guard let parsed = try? TunnelEnvelope.parse(bytes) else { return }
        let again: TunnelEnvelope
        do { again = try TunnelEnvelope.parse(parsed.json()) } catch {
            preconditionFailure("an accepted envelope, written again, is refused: \(error)")
        }
        precondition(again == parsed, "an accepted envelope does not survive being written and read again")
    }

    private static func payload(_ bytes: [UInt8]) {
        guard let payload = try? TunnelPayload.parse(bytes), let original = payload.original else { return }
        mime(original)
    }

    private static func mime(_ bytes: [UInt8]) {
        guard let parsed = try? MessageParser.parse(bytes) else { return }
        for attachment in parsed.attachments {
            precondition(!attachment.filename.isEmpty, "an attachment without a file name")
            precondition(!attachment.filename.contains("/") && !attachment.filename.contains("\0"),
                         "an attachment name that is a path: \(attachment.filename)")
        }
        if let html = parsed.htmlBody { sanitizer(html.bytes, charset: html.charset) }
    }

    private static func sanitizer(_ bytes: [UInt8]) { sanitizer(bytes, charset: nil) }

    private static func sanitizer(_ bytes: [UInt8], charset: String?) {
        let strict = HTMLSanitizer.sanitize(bytes, charset: charset, policy: SanitizerPolicy()).html
        let problems = HTMLOracle.violations(in: strict)
        precondition(problems.isEmpty, "sanitizer output breaks the allow-list: \(problems)")
        let open = HTMLSanitizer.sanitize(bytes, charset: charset,
                                          policy: SanitizerPolicy(allowRemoteImages: true, resolveContentID: { "att-" + $0 })).html
        let openProblems = HTMLOracle.violations(in: open, remoteImagesAllowed: true, imageReference: { $0.hasPrefix("att-") })
        precondition(openProblems.isEmpty, "sanitizer output (remote images allowed) breaks the allow-list: \(openProblems)")
    }

    private static let receiptFile = (NSTemporaryDirectory() as NSString).appendingPathComponent("spoolrun-fuzz-receipts-\(getpid()).log")

    private static func receiptLog(_ bytes: [UInt8]) {
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            if let r = ReceiptLog.parse(String(decoding: line, as: UTF8.self)) {
                precondition((16...64).contains(r.token.count), "a receipt token of \(r.token.count) characters")
            }
        }
        guard FileManager.default.createFile(atPath: receiptFile, contents: Data(bytes)) else { return }
        defer { unlink(receiptFile) }
        let log = ReceiptLog(path: receiptFile)
        guard let first = try? log.read(from: nil) else { return }
        // Read again from where it stopped: nothing new.
        if let again = try? log.read(from: first.position) {
            precondition(again.lines.isEmpty, "a receipt log read twice gives lines again")
        }
    }
}
