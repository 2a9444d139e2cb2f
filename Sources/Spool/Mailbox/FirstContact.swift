// First contact with a recipient (DESIGN §5): a P-256 key pair and a mailbox id, the
// private key wrapped under the recipient's password and published as a key bundle in
// www/k/, the password forgotten. The caller records the returned RecipientRecord in the
// batch's transaction and, for a generated password, queues the password notice.
import Foundation
import Crypto
import Tunnel

public struct FirstContact: Sendable {
    public let www: PortalFiles
    public let installationSalt: [UInt8]
    public let iterations: Int

    public init(www: PortalFiles, installationSalt: [UInt8], iterations: Int = SealedFormat.loginIterations) {
        self.www = www
        self.installationSalt = installationSalt
        self.iterations = iterations
    }

    public struct Result: Sendable {
        public let recipient: RecipientRecord
        /// Set when spoolrun made the password: it must reach the envelope's sender in a
        /// password notice, and nowhere else.
        public let generatedPassword: String?
        /// The key bundle's file under www/k/ (to take back if the message is refused after all).
        public let bundleFile: String
    }

    /// Makes the recipient's keys and writes their bundle. `password` is the envelope's
    /// first-contact password for them, if it has one. Costs one PBKDF2 run, by design.
    /// `mailboxID`: keep this mailbox (a reset), else a new one.
    public func register(_ address: String, password: String?, now: Date, mailboxID existing: String? = nil) throws -> Result {
        let address = EmailAddress.normalize(address)
        let generated = password == nil ? PasswordGenerator.generate() : nil
        let secret = password ?? generated!
        let login = try RecipientLogin.derive(address: address, password: secret, installationSalt: installationSalt,
                                              iterations: iterations)
        let path = www.bundlePath(locator: login.locator)
        // A sweep that died after writing this bundle and before recording the recipient left
        // it behind, and the recipient may already have signed in with the given password and
        // read: keep that mailbox and key (the password opens the bundle), so what they saw,
        // read-receipt tokens included, stays valid. (Found by the crash suite.)
        if password != nil, existing == nil, let data = FileManager.default.contents(atPath: path),
           let orphan = try? KeyBundle(json: [UInt8](data)), let pair = try? orphan.unwrap(with: login) {
            return Result(recipient: RecipientRecord(address: address, mailboxID: orphan.mailboxID, publicKey: pair.publicPoint,
                                                     createdAt: now),
                          generatedPassword: nil, bundleFile: path)
        }
        let pair = try P256KeyPair.generate()
        let mailboxID = existing ?? Hex.encode(SecureRandom.bytes(16))
        let bundle = try KeyBundle.wrap(pair, login: login, mailboxID: mailboxID)
        try www.writeBundle(bundle, locator: login.locator)
        return Result(recipient: RecipientRecord(address: address, mailboxID: mailboxID, publicKey: pair.publicPoint,
                                                 createdAt: now),
                      generatedPassword: generated, bundleFile: www.bundlePath(locator: login.locator))
    }
}
