// `spoolrun recipient list`: who has a mailbox, since when, last read, how much mail.
import ArgumentParser
import Foundation
import Logging
import Spool

extension Spoolrun {
    struct Recipient: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inspect and manage the recipients' mailboxes.", subcommands: [List.self, Reset.self, Delete.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List each recipient: address, creation date, last read (last sign-in, from nginx's access log), messages and bytes.")
            @OptionGroup var options: ConfigOption
            @Flag(help: "Print JSON.") var json = false
            func run() throws {
                try CLI.guarded { print(try RecipientAdmin(config: try options.load()).list(json: json)) }
            }
        }
    
        struct Reset: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Give a recipient a new key pair and password, seal their mail again from the archive and send the password notice.")
            @OptionGroup var options: ConfigOption
            @Argument(help: "The recipient's address.") var address: String
            @Option(name: .customLong("password-to"), help: "Who gets the new password to pass on (default: the sender of their latest message).")
            var passwordTo: String?
            func run() throws {
                CLI.bootstrapLogging(level: .info)
                try CLI.guarded {
                    let outcome = try RecipientReset(config: try options.load(), logger: Logger(label: "spoolrun")).run(address, passwordTo: passwordTo)
                    print("reset \(address): new password queued for \(outcome.notified); \(outcome.resealed.rewritten) message(s) sealed again, "
                          + "\(outcome.resealed.failed) failed; \(outcome.oldBundlesRemoved) old key bundle(s) removed")
                }
            }
        }
    
        struct Delete: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Remove a recipient's mailbox, key bundles and state; a later message to them starts afresh.")
            @OptionGroup var options: ConfigOption
            @Argument(help: "The recipient's address.") var address: String
            func run() throws {
                CLI.bootstrapLogging(level: .info)
                try CLI.guarded {
                    let n = try RecipientDeletion(config: try options.load(), logger: Logger(label: "spoolrun")).run(address)
                    print("deleted \(address): mailbox with \(n) message(s), key bundles and state removed")
                }
            }
        }
    }
}
