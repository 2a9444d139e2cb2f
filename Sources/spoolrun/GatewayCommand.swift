// `spoolrun gateway filter`: the gateway side as a Postfix pipe(8) content filter (issue 7).
// The message on stdin, the envelope as arguments; the exit status is what Postfix acts on:
// 0 accepted, 75 try again later (anything temporary, the configuration included), 65 never.
import ArgumentParser
import Foundation
import Spool

extension Spoolrun {
    struct Gateway: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The gateway side: route mail to the portal through the tunnel, or pass it through.",
            subcommands: [Filter.self])
    }
}

extension Spoolrun.Gateway {
    struct Filter: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Content filter: read a message on stdin, send its webmail recipients' share through the tunnel and re-inject the rest.",
            discussion: """
                Exit status (sysexits): 0 accepted; 75 try again later (sendmail failed, a key or \
                list could not be read, the disk is full, a usage error); 65 the message can never \
                be accepted (empty, or from the null sender to a webmail recipient). \
                See docs/gateway.md for the Postfix master.cf and main.cf lines.
                """)

        @Option(help: "The gateway config (gateway.toml written by setup).") var config: String
        @Option(name: .customShort("f"), help: ArgumentHelp("The envelope sender (empty for the null sender).", valueName: "sender")) var sender: String
        @Flag(help: "Print each recipient's route and send nothing.") var dryRun = false
        @Argument(parsing: .postTerminator, help: "The envelope recipients, after --.") var recipients: [String] = []

        func run() throws {
            let status: Int32
            do {
                let gateway = try GatewayConfig.load(path: config)
                let filter = try Spool.GatewayFilter(config: gateway)
                let message = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
                if dryRun {
                    for part in filter.plan(message: message, recipients: recipients) {
                        for r in part.recipients { print("\(r) \(part.label)") }
                    }
                    return
                }
                let result = filter.run(message: message, sender: sender, recipients: recipients)
                switch result {
                case .accepted(let warnings):
                    for w in warnings { report(w) }
                case .deferred(let why):
                    report("deferred: \(why)")
                case .refused(let why):
                    report("refused: \(why)")
                }
                status = result.exitStatus
            } catch {
                // A configuration the filter cannot use: the administrator's to fix, so the
                // mail waits in Postfix's queue instead of bouncing.
                report("deferred: \(error)")
                status = 75
            }
            if status != 0 { throw ExitCode(status) }
        }

        private func report(_ line: String) {
            FileHandle.standardError.write(Data("spoolrun gateway filter: \(line)\n".utf8))
        }
    }
}
