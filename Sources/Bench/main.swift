// `spoolrun-bench`: what `make bench` measures besides `spoolrun run` itself (DESIGN §10).
//   floor  TUNNEL-KEY TUNNEL-CERT GATEWAY-CERT TUNNEL-FILE [SECONDS]
//          decrypt + split + pinned verify of one tunnel message, repeated on one thread,
//          with no spool, no state store and no envelope checks: the in-process floor.
//   intake CONFIG
//          one sweep with the intake step only (decrypt, verify, record durably, archive),
//          i.e. `spoolrun run` without rendering.
import Crypto
import Foundation
import Logging
import Mail
import Spool
import Tunnel

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("spoolrun-bench: \(message)\n".utf8))
    exit(2)
}

func floor(_ args: [String]) throws {
    let seconds = args.count > 6 ? (Double(args[6]) ?? 3) : 3
    let opener = TunnelOpener(
        keyPairs: [TunnelKeyPair(key: try PrivateKey(contentsOf: args[2]), certificate: try Certificate(contentsOf: args[3]))],
        pinned: [try Certificate(contentsOf: args[4])])
    guard let data = FileManager.default.contents(atPath: args[5]) else { fail("cannot read \(args[5])") }
    let der = try OuterTunnelMessage.parse([UInt8](data)).body

    func once() throws {
        let decrypted = try opener.decrypt(der: der).get()
        let signed = try SignedEntity.parse(decrypted.content)
        _ = try opener.verify(signature: signed.signature, detachedContent: signed.detachedContent).get()
    }
    try once()
    var count = 0
    let start = Date()
    while Date().timeIntervalSince(start) < seconds {
        try once()
        count += 1
    }
    print(String(format: "%.1f", Double(count) / Date().timeIntervalSince(start)))
}

let args = CommandLine.arguments
do {
    switch (args.count > 1 ? args[1] : "", args.count) {
    case ("floor", 6...): try floor(args)
    case ("intake", 3):
        let config = try SpoolrunConfig.load(path: args[2])
        var logger = Logger(label: "spoolrun-bench")
        logger.logLevel = .warning
        _ = try Sweep(config: config, logger: logger).run()
    default:
        fail("usage: spoolrun-bench floor TUNNEL-KEY TUNNEL-CERT GATEWAY-CERT TUNNEL-FILE [SECONDS] | intake CONFIG")
    }
} catch {
    fail("\(error)")
}
