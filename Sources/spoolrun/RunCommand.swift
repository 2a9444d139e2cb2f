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
                _ = try Sweep.standard(config: config, logger: Logger(label: "spoolrun")).run()
            }
        }
    }
}
