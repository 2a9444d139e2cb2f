// `spoolrun setup`: the setup wizard.
import ArgumentParser
import Spool

extension Spoolrun {
    struct Setup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new installation: keys, certificates, config, spool and nginx config.")

        @Option(help: "The installation directory to create.") var dir: String
        @Option(help: "The portal's public URL, used in notifications.") var portalURL = "http://127.0.0.1:8080/"
        @Option(help: "Where nginx listens (HOST:PORT).") var listen = "127.0.0.1:8080"
        @Option(help: "The webmail-recipient address tunnel mail is accepted for.") var recipientAddress: String?
        @Option(help: "The webmail-sender address the gateway sends tunnel mail from.") var senderAddress: String?
        @Option(help: "Pin this existing gateway signing certificate instead of making a new pair.") var gatewayCert: String?
        @Option(help: "Use this spool directory instead of DIR/spool.") var spool: String?
        @Option(help: "Use this web root instead of DIR/www.") var www: String?
        @Option(help: "Install the portal app from this directory (default: found next to the binary).") var app: String?
        @Option(help: "Write the gateway's files (its signing key among them) here, outside DIR (default: DIR-gateway).")
        var gatewayDir: String?
        @Option(help: "nginx's own user: as root, setup hands it DIR/logs and DIR/run, nothing else.") var nginxUser: String?
        @Flag(help: "In an existing installation DIR: add a new tunnel-recipient pair next to the old one (key rotation).")
        var rotate = false

        func run() throws {
            try CLI.guarded {
                if rotate {
                    let r = try TunnelKeyRotation.rotate(directory: dir, gatewayDir: gatewayDir)
                    let copy = r.gatewayCert.map { "the gateway's copy\n\($0) is" } ?? "\(r.cert) is"
                    print("""
                        New tunnel-recipient pair: \(r.key), \(r.cert)
                        Both the new and the old pairs now decrypt (tunnel.recipient_keys); \(copy) the new
                        certificate: give it to the gateway. Keep the old pair listed
                        while mail encrypted to it may still arrive and while the archive holds such mail
                        (spool.archive_days); see docs/operations.md, "Rotating the tunnel key".
                        """)
                    return
                }
                var o = SetupOptions(directory: dir)
                o.portalURL = portalURL
                o.listen = listen
                o.recipientAddress = recipientAddress
                o.senderAddress = senderAddress
                o.gatewayCert = gatewayCert
                o.spool = spool
                o.www = www
                o.app = app
                o.gatewayDir = gatewayDir
                o.nginxUser = nginxUser
                let inst = try Spool.Setup.run(o)
                print("""
                    Created \(inst.root)
                      portal config:   \(inst.config)
                      nginx config:    \(inst.nginxConfig)   (nginx -p \(inst.root) -c \(inst.nginxConfig))
                                       run nginx as its own user\(nginxUser.map { " (\($0): it owns \(inst.logs) and \(inst.run))" } ?? ", who must own \(inst.logs) and \(inst.run)")
                      for the gateway: \(inst.gateway)/ (gateway.toml, tunnel-recipient.crt\(gatewayCert == nil ? ", gateway-sender.key/.crt" : ""))
                    The gateway folder is outside the installation\(gatewayCert == nil ? " and holds the gateway's signing key" : ""):
                    carry it to the gateway, then delete it from this host.
                    Next: point the gateway at it, then run `spoolrun run --config \(inst.config)` every minute.
                    """)
            }
        }
    }
}
