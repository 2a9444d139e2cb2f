// Seals a rendered message into one recipient's mailbox and writes the files atomically:
// www/m/<mailbox>/<message>/{body,eml,att-N,msg-N} and www/m/<mailbox>/index.json.
import Foundation
import Crypto

struct MailboxWriter {
    let www: PortalFiles

    /// The message id of an envelope in one mailbox: stable, so a re-render rewrites the
    /// same names, and unlinkable to the envelope id without it.
    static func messageID(envelopeID: String, address: String) -> String {
        String(SHA256.hex(Array("spoolrun/v1/message|\(envelopeID)|\(address)".utf8)).prefix(32))
    }

    /// `receipt` is the read-receipt token and its sealed context, when a receipt was asked for;
    /// `otp` the mailed PDF's password, in OTP mode. Without a portal copy only the message
    /// document (headers and password) is written.
    func write(_ message: RenderedMessage, for recipient: RecipientRecord, envelopeID: String,
               receivedAt: Date, receipt: (token: String, hash: String, context: [UInt8])? = nil,
               otp: MessageDocument.OTP? = nil) throws -> DeliveryRecord {
        let id = Self.messageID(envelopeID: envelopeID, address: recipient.address)
        let key = try P256PublicKey(point: recipient.publicKey)
        let dir = www.mailboxPath(recipient.mailboxID).appendingPathComponent(id)
        try FileSystem.makeDirectory(dir, mode: 0o755)
        func seal(_ bytes: [UInt8], _ object: String) throws -> [UInt8] {
            try SealedFormat.seal(bytes, to: key, context: .init(mailboxID: recipient.mailboxID, messageID: id, objectName: object))
        }
        var files: [(String, [UInt8])] = [("body", try DocumentJSON.encode(message.document(id, receipt?.token, otp)))]
        if otp?.portalCopy ?? true { files += [("eml", message.original)] + message.objects }
        for (name, bytes) in files {
            // Synced once for the whole batch (RenderStage), before the batch is recorded.
            // Sealed straight into the file: a large attachment is never in memory twice.
            try FileSystem.writeAtomically(to: dir.appendingPathComponent(name), mode: 0o644, sync: false) { write in
                try SealedFormat.seal(bytes, to: key, context: .init(mailboxID: recipient.mailboxID, messageID: id, objectName: name),
                                      output: write)
            }
        }
        return DeliveryRecord(mailboxID: recipient.mailboxID, messageID: id, envelopeID: envelopeID, address: recipient.address,
                              receivedAt: receivedAt, entry: try seal(try DocumentJSON.encode(message.entry(id, otp?.passwordID)), "entry"),
                              size: message.original.count, receiptHash: receipt?.hash, receiptContext: receipt?.context)
    }

    func writeIndex(mailboxID: String, deliveries: [DeliveryRecord]) throws {
        var byID: [String: DeliveryRecord] = [:]
        for d in deliveries { byID[d.messageID] = d }  // a re-render replaces its entry
        let sorted = byID.values.sorted { ($0.receivedAt, $0.messageID) > ($1.receivedAt, $1.messageID) }
        let index = MailboxIndexDocument(mailbox: mailboxID, entries: sorted.map {
            .init(id: $0.messageID, received: TunnelEnvelope.formatTime($0.receivedAt),
                  rev: String(SHA256.hex($0.entry).prefix(16)), entry: Base64URL.encode($0.entry))
        })
        try FileSystem.writeAtomically(try DocumentJSON.encode(index), to: www.mailboxPath(mailboxID).appendingPathComponent("index.json"),
                                       mode: 0o644, sync: false)
    }
}
