// `spoolrun wrap`: the gateway side, original message on stdin, tunnel message on stdout.
import ArgumentParser
import Crypto
import Foundation
import Spool
import Tunnel

extension TunnelCipher: ExpressibleByArgument {}

extension Spoolrun {
    struct Wrap: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wrap an original message (stdin) into a tunnel message (stdout).")

        @Option(help: "The gateway config (gateway.toml written by setup).") var config: String
        @Option(parsing: .upToNextOption, help: "Recipient address(es).") var to: [String]
        @Option(help: "The envelope sender (default: the original's From).") var from: String?
        @Flag(help: "Ask for a read receipt.") var readReceipt = false
        @Flag(help: "Deliver as an OTP-protected PDF.") var otpPdf = false
        @Option(help: "A first-contact password, ADDR=PASSWORD (repeatable).") var password: [String] = []
        @Option(help: "Content encryption.") var cipher: TunnelCipher = .aes256gcm

        func validate() throws {
            for p in password where !p.contains("=") {
                throw ValidationError("--password must be ADDR=PASSWORD")
            }
        }

        func run() throws {
            try CLI.guarded {
                let gateway: GatewayConfig
                do { gateway = try GatewayConfig.load(path: config) } catch {
                    throw Failure(message: "\(error)", code: Failure.configError)
                }
                var o = WrapOptions(recipients: to)
                o.sender = from
                o.readReceipt = readReceipt
                o.otpPDF = otpPdf
                o.cipher = cipher
                for p in password {
                    let parts = p.split(separator: "=", maxSplits: 1)
                    o.passwords[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
                }
                let original = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
                let tunnel = try Wrapper.wrap(original, config: gateway, options: o)
                FileHandle.standardOutput.write(Data(tunnel))
            }
        }
    }
}
