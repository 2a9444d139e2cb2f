// `spoolrun recall ID [--recipient ADDR]`: take a delivered message out of the mailboxes.
import ArgumentParser
import Foundation
import Logging
import Spool

extension Spoolrun {
    struct Recall: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a delivered message out of its recipients' mailboxes; the archive copy stays until it expires.")

        @OptionGroup var options: ConfigOption
        @Argument(help: "The message's envelope id (as the sweep logged it).") var id: String
        @Option(help: "Only this recipient's copy.") var recipient: String?

        func run() throws {
            CLI.bootstrapLogging(level: .info)
            try CLI.guarded {
                let config = try options.load()
                let removed = try Spool.Recall(config: config, logger: Logger(label: "spoolrun")).run(envelopeID: id, recipient: recipient)
                print("recalled \(id) from \(removed.count) mailbox(es): \(removed.joined(separator: ", "))")
            }
        }
    }
}
