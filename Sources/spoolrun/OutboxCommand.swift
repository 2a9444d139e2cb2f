// `spoolrun outbox list|show|retry`: inspect and nudge the mail queue.
import ArgumentParser
import Foundation
import Spool

extension Spoolrun {
    struct Outbox: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inspect the outgoing mail queue (notifications, password notices, read receipts).",
            subcommands: [List.self, Show.self, Retry.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List every queued, sent and failed mail.")
            @OptionGroup var options: ConfigOption
            @Flag(help: "Print JSON.") var json = false
            func run() throws {
                try CLI.guarded { print(try OutboxAdmin(config: try options.load()).list(json: json)) }
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show one mail: its state, last error and header.")
            @OptionGroup var options: ConfigOption
            @Argument(help: "The id (or its first 6+ hex digits) from `spoolrun outbox list`.") var id: String
            @Flag(help: "Print the whole message (a password notice contains a password).") var message = false
            func run() throws {
                try CLI.guarded { print(try OutboxAdmin(config: try options.load()).show(id, wholeMessage: message)) }
            }
        }

        struct Retry: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Queue a failed or waiting mail again, due at the next sweep.")
            @OptionGroup var options: ConfigOption
            @Argument(help: "The id (or its first 6+ hex digits) from `spoolrun outbox list`.") var id: String
            func run() throws {
                try CLI.guarded { print(try OutboxAdmin(config: try options.load()).retry(id)) }
            }
        }
    }
}
