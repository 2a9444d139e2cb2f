// `spoolrun recipient list`: who has a mailbox, since when, last read, how much mail.
import ArgumentParser
import Foundation
import Spool

extension Spoolrun {
    struct Recipient: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inspect the recipients' mailboxes.", subcommands: [List.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List each recipient: address, creation date, last read (last sign-in, from nginx's access log), messages and bytes.")
            @OptionGroup var options: ConfigOption
            @Flag(help: "Print JSON.") var json = false
            func run() throws {
                try CLI.guarded { print(try RecipientAdmin(config: try options.load()).list(json: json)) }
            }
        }
    }
}
