// `spoolrun-bench`: the in-process floor that `make bench` measures intake against
// (DESIGN §10): decrypt + split + pinned verify of one tunnel message, repeated, on one
// thread, with no spool, no state store and no envelope checks.
//
// usage: spoolrun-bench floor TUNNEL-KEY TUNNEL-CERT GATEWAY-CERT TUNNEL-FILE [SECONDS]
import Crypto
import Foundation
import Mail

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("spoolrun-bench: \(message)\n".utf8))
    exit(2)
}

let args = CommandLine.arguments
guard args.count >= 6, args[1] == "floor" else {
    fail("usage: spoolrun-bench floor TUNNEL-KEY TUNNEL-CERT GATEWAY-CERT TUNNEL-FILE [SECONDS]")
}
let seconds = args.count > 6 ? (Double(args[6]) ?? 3) : 3
do {
    let opener = TunnelOpener(
        keyPairs: [TunnelKeyPair(key: try PrivateKey(contentsOf: args[2]), certificate: try Certificate(contentsOf: args[3]))],
        pinned: [try Certificate(contentsOf: args[4])])
    guard let data = FileManager.default.contents(atPath: args[5]) else { fail("cannot read \(args[5])") }
    let outer = try OuterTunnelMessage.parse([UInt8](data))
    let der = outer.body

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
    let rate = Double(count) / Date().timeIntervalSince(start)
    print(String(format: "%.1f", rate))
} catch {
    fail("\(error)")
}
