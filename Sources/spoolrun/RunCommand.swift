// `spoolrun run`: one sweep.
import ArgumentParser
import Logging
import Spool

extension Spoolrun {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one sweep: take in the spool, quarantine bad input, archive the rest.")

        @OptionGroup var options: ConfigOption
        @Flag(help: "Log only warnings and errors.") var quiet = false

        func run() throws {
            CLI.bootstrapLogging(level: quiet ? .warning : .info)
            try CLI.guarded {
                let config = try options.load()
                _ = try Sweep(config: config, logger: Logger(label: "spoolrun")).run()
            }
        }
    }
}
