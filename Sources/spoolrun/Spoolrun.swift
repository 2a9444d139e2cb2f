// The spoolrun command line: argument parsing only; every command calls the Spool engine.
import ArgumentParser
import Foundation
import Logging
import Spool

@main
struct Spoolrun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spoolrun",
        abstract: "Secure-webmail delivery portal: sweeps an S/MIME tunnel spool into sealed mailboxes.",
        subcommands: [Setup.self, Run.self, Wrap.self, Status.self, Outbox.self, Reprocess.self, Recall.self, Recipient.self, Gateway.self])

    /// As ArgumentParser's own, but a usage error in `gateway ...` exits 75: Postfix runs the
    /// filter from master.cf, and a mistake there must hold mail back, not bounce it.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if CommandLine.arguments.dropFirst().first == "gateway", !(error is ExitCode), exitCode(for: error) != .success {
                FileHandle.standardError.write(Data("spoolrun gateway: \(fullMessage(for: error))\n".utf8))
                Foundation.exit(75)
            }
            exit(withError: error)
        }
    }
}

/// `--config FILE`, shared by the commands that read spoolrun.toml.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The configuration file (default: $SPOOLRUN_CONFIG, else /etc/spoolrun/spoolrun.toml).")
    var config: String?

    func load() throws -> SpoolrunConfig {
        do { return try SpoolrunConfig.load(path: config ?? SpoolrunConfig.defaultPath) } catch {
            throw Failure(message: "\(error)", code: Failure.configError)
        }
    }
}

/// A failure reported on stderr with a chosen exit status.
struct Failure: Error, CustomStringConvertible {
    static let configError: Int32 = 78  // EX_CONFIG, sysexits(3)
    static let softwareError: Int32 = 1
    static let permissionError: Int32 = 77  // EX_NOPERM
    let message: String
    var code: Int32 = softwareError
    var description: String { message }
}

enum CLI {
    static func bootstrapLogging(level: Logger.Level = .info) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Runs `body`, turning any error into one clear line on stderr and an exit status.
    static func guarded(_ body: () throws -> Void) throws {
        do { try body() } catch let f as Failure {
            FileHandle.standardError.write(Data("spoolrun: \(f.message)\n".utf8))
            throw ExitCode(f.code)
        } catch let e as ExitCode {
            throw e
        } catch let e as StateAccessError {
            // 77 (EX_NOPERM): the wrong user, or a state folder others can read.
            FileHandle.standardError.write(Data("spoolrun: \(e.description)\n".utf8))
            throw ExitCode(Failure.permissionError)
        } catch let e as AdminCommandError {
            // 75 (EX_TEMPFAIL): the sweep lock is held, try again later.
            FileHandle.standardError.write(Data("spoolrun: \(e.description)\n".utf8))
            throw ExitCode(e.busy ? 75 : Failure.softwareError)
        } catch {
            FileHandle.standardError.write(Data("spoolrun: \(error)\n".utf8))
            throw ExitCode(Failure.softwareError)
        }
    }
}
