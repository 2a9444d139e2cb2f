// Runs the configured sendmail-compatible command for one message (DESIGN §3, §6):
// `SENDMAIL -i -f FROM -- RCPT` with the message on stdin. No shell is involved: the
// command is split on spaces, and the addresses are passed as single arguments after "--".
// It runs as a ChildProcess: in its own process group, killed with whatever it started when
// `timeout` passes, its standard input the whole message in a memory file before it starts
// (an MTA takes the end of its input as the end of the message, so a sweep killed mid-way
// must not hand it a cut one). This file builds the command line and reads the outcome.
import Foundation

public struct SendmailOutcome: Sendable, Equatable {
    /// The exit status, or nil when the command was killed (timeout or signal).
    public var status: Int32?
    public var timedOut: Bool
    /// The end of what the command wrote on stderr (never the message).
    public var diagnostics: String
    /// The command never ran (empty, not found, no pipe): `diagnostics` says why.
    public var notStarted = false

    public var sent: Bool { status == 0 && !timedOut }

    public var summary: String {
        if timedOut { return "timed out and was killed" + (diagnostics.isEmpty ? "" : ": \(diagnostics)") }
        if notStarted { return "could not be run: \(diagnostics)" }
        guard let status else { return "was killed by a signal" }
        return "exited \(status)" + (diagnostics.isEmpty ? "" : ": \(diagnostics)")
    }
}

public struct SendmailCommand: Sendable {
    public let argv: [String]
    public let timeout: TimeInterval

    public init(_ command: String, timeout: TimeInterval) {
        argv = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        self.timeout = timeout
    }

    public func send(_ message: [UInt8], from: String, to recipients: [String]) -> SendmailOutcome {
        guard !argv.isEmpty else {
            return SendmailOutcome(status: nil, timedOut: false, diagnostics: "mail.sendmail is empty", notStarted: true)
        }
        let child = ChildProcess(argv + ["-i", "-f", from, "--"] + recipients, input: .bytes(message),
                                 errors: .capture(limit: 2048), timeout: timeout)
        let completion: ChildProcess.Completion
        do {
            completion = try child.run()
        } catch {
            return SendmailOutcome(status: nil, timedOut: false, diagnostics: error.description, notStarted: true)
        }
        let diagnostics = Self.diagnostics(completion.errors.bytes)
        switch completion.termination {
        case .exited(let status): return SendmailOutcome(status: status, timedOut: false, diagnostics: diagnostics)
        case .timedOut: return SendmailOutcome(status: nil, timedOut: true, diagnostics: diagnostics)
        case .signalled, .unknown: return SendmailOutcome(status: nil, timedOut: false, diagnostics: diagnostics)
        }
    }

    /// The end of what the command wrote on stderr, as one printable line.
    static func diagnostics(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " | ")
        return String(line.suffix(400))
    }
}
