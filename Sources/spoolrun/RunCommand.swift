// `spoolrun run`: one sweep.
import ArgumentParser
import Logging
import Spool

extension Spoolrun {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one sweep: take in the spool, render into sealed mailboxes, quarantine bad input.")

        @OptionGroup var options: ConfigOption
        @Flag(help: "Log only warnings and errors.") var quiet = false

        func run() throws {
            CLI.bootstrapLogging(level: quiet ? .warning : .info)
            try CLI.guarded {
                let config = try options.load()
                let logger = Logger(label: "spoolrun")
                for key in StrayGatewayKeys.find(config: config) {
                    logger.warning("a gateway private key is inside the installation: it lets anyone put mail into any mailbox; move it to the gateway and delete it here",
                                   metadata: ["file": "\(key)"])
                }
                _ = try Sweep.standard(config: config, logger: logger).run()
            }
        }
    }
}
