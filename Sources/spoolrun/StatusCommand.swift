// `spoolrun status`: counts per state and the last sweep.
import ArgumentParser
import Spool

extension Spoolrun {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show message counts and the last sweep.")

        @OptionGroup var options: ConfigOption
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            try CLI.guarded {
                let report = try StatusReport.gather(config: try options.load())
                print(json ? report.json() : report.text())
            }
        }
    }
}
