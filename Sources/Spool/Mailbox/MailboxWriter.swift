// Seals a rendered message into one recipient's mailbox and writes the files atomically:
// www/m/<mailbox>/<message>/{body,eml,att-N,msg-N} and www/m/<mailbox>/index.json.
import Foundation
import Crypto
import Tunnel

struct MailboxWriter {
    let www: PortalFiles
    /// Keys the render digest (derived from the outbox key): the digest in the state store
    /// says whether a render changed, and nothing about the content to anyone without it.
    let digestKey: [UInt8]

    /// The message id of an envelope in one mailbox: stable, so a re-render rewrites the
    /// same names, and unlinkable to the envelope id without it.
    static func messageID(envelopeID: String, address: String) -> String {
        String(SHA256.hex(Array("spoolrun/v1/message|\(envelopeID)|\(address)".utf8)).prefix(32))
    }

    /// `receipt` is the read-receipt token and its sealed context, when a receipt was asked for;
    /// `otp` the mailed PDF's password, in OTP mode. Without a portal copy only the message
    /// document (headers and password) is written. When `previous` (the delivery as recorded)
    /// has the same render digest and all its files are there, nothing is written and
    /// `previous` is returned: rendering again without a change leaves every file as it is.
    func write(_ message: RenderedMessage, for recipient: RecipientRecord, envelopeID: String,
               receivedAt: Date, receipt: (token: String, hash: String, context: [UInt8])? = nil,
               otp: MessageDocument.OTP? = nil, previous: DeliveryRecord? = nil) throws -> (record: DeliveryRecord, changed: Bool) {
        let id = Self.messageID(envelopeID: envelopeID, address: recipient.address)
        let dir = www.mailboxPath(recipient.mailboxID).appendingPathComponent(id)
        var files: [(String, [UInt8])] = [("body", try DocumentJSON.encode(message.document(id, receipt?.token, otp)))]
        if otp?.portalCopy ?? true { files += [("eml", message.original)] + message.objects }
        let entry = try DocumentJSON.encode(message.entry(id, otp?.passwordID))
        let digest = try renderDigest(files + [("entry", entry)], recipient: recipient, receivedAt: receivedAt)
        if let previous, previous.renderDigest == digest, previous.mailboxID == recipient.mailboxID,
           files.allSatisfy({ FileSystem.exists(dir.appendingPathComponent($0.0)) }) {
            return (previous, false)
        }
        let key = try P256PublicKey(point: recipient.publicKey)
        try FileSystem.makeDirectory(dir, mode: 0o755)
        for (name, bytes) in files {
            // Synced once for the whole batch (RenderStage), before the batch is recorded.
            // Sealed straight into the file: a large attachment is never in memory twice.
            try FileSystem.writeAtomically(to: dir.appendingPathComponent(name), mode: 0o644, sync: false) { write in
                try SealedFormat.seal(bytes, to: key, context: .init(mailboxID: recipient.mailboxID, messageID: id, objectName: name),
                                      output: write)
            }
        }
        let sealedEntry = try SealedFormat.seal(entry, to: key, context: .init(mailboxID: recipient.mailboxID, messageID: id,
                                                                             objectName: "entry"))
        return (DeliveryRecord(mailboxID: recipient.mailboxID, messageID: id, envelopeID: envelopeID, address: recipient.address,
                               receivedAt: receivedAt, entry: sealedEntry, size: message.original.count, receiptHash: receipt?.hash,
                               receiptContext: receipt?.context, renderDigest: digest), true)
    }

    /// HKDF-SHA-256 under `digestKey` over the SHA-256 of every plaintext object (by name),
    /// the key they are sealed to and the received time: any change to what the recipient
    /// would read, or to where and how it is sealed, changes it.
    private func renderDigest(_ objects: [(String, [UInt8])], recipient: RecipientRecord, receivedAt: Date) throws -> String {
        var info = Array("spoolrun/v1/render|\(recipient.mailboxID)|\(UTCTime.database(receivedAt))|".utf8) + recipient.publicKey
        for (name, bytes) in objects.sorted(by: { $0.0 < $1.0 }) {
            info += Array("|\(name)|".utf8) + SHA256.hash(bytes)
        }
        return Base64URL.encode(try HKDF.sha256(ikm: digestKey, salt: [], info: info, length: 32))
    }

    func writeIndex(mailboxID: String, deliveries: [DeliveryRecord]) throws {
        var byID: [String: DeliveryRecord] = [:]
        for d in deliveries { byID[d.messageID] = d }  // a re-render replaces its entry
        let sorted = byID.values.sorted { ($0.receivedAt, $0.messageID) > ($1.receivedAt, $1.messageID) }
        let index = MailboxIndexDocument(mailbox: mailboxID, entries: sorted.map {
            .init(id: $0.messageID, received: TunnelEnvelope.formatTime($0.receivedAt),
                  rev: String(SHA256.hex($0.entry).prefix(16)), entry: Base64URL.encode($0.entry))
        })
        let bytes = try DocumentJSON.encode(index)
        let path = www.mailboxPath(mailboxID).appendingPathComponent("index.json")
        // The same index again is not rewritten: a reprocess that changes nothing changes no file.
        if let existing = FileManager.default.contents(atPath: path), [UInt8](existing) == bytes { return }
        try FileSystem.writeAtomically(bytes, to: path, mode: 0o644, sync: false)
    }
}
