// The floor under first-contact passwords given in an envelope (issue 15): a key bundle in
// www/k/ is public, so a password that guessing finds cheaply gives its mailbox away
// offline. The portal refuses such an envelope, and `spoolrun wrap` refuses such a
// --password before sending, with the same words.
import Foundation

public enum PasswordFloor {
    public static let minimumLength = 12
    /// Fewer distinct characters than this ("aaaaaaaaaaaa", "abababababab") is a pattern.
    package static let minimumDistinct = 4

    /// Why `password` is too weak for `address`, as the end of a sentence about "the password
    /// for ADDRESS" ("is too short (8 characters, at least 12)"), or nil when it is strong
    /// enough. Never quotes the password: the sentence goes into reason files, logs and errors.
    public static func weakness(of password: String, for address: String) -> String? {
        let length = password.count
        if length < minimumLength {
            return "is too short (\(length) character\(length == 1 ? "" : "s"), at least \(minimumLength))"
        }
        let plain = comparable(password)
        if CommonPasswords.list.contains(plain) { return "is a common password" }
        if isMadeFrom(address: address, plain) { return "is made from the address" }
        if Set(password.lowercased()).count < minimumDistinct {
            return "uses fewer than \(minimumDistinct) different characters"
        }
        return nil
    }

    /// Lower case, letters and digits only: the form CommonPasswords lists.
    package static func comparable(_ text: String) -> String {
        String(text.lowercased().unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) }
            .map(Character.init))
    }

    /// The address, its local part or its domain's labels, repeated or with only digits
    /// around them ("bob@ext.example", "bobbobbobbob", "bob123456789", "bobexample2026"):
    /// the first thing a guesser who knows the address tries.
    package static func isMadeFrom(address: String, _ plain: String) -> Bool {
        let lowered = address.lowercased()
        let local = lowered.split(separator: "@").first.map(String.init) ?? lowered
        var parts = Set(lowered.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init))
        parts.insert(comparable(local))
        parts.insert(comparable(lowered))
        var rest = plain
        var removed = false
        for part in parts.filter({ !$0.isEmpty }).sorted(by: { $0.count > $1.count }) where rest.contains(part) {
            rest = rest.replacingOccurrences(of: part, with: "")
            removed = true
        }
        return removed && rest.allSatisfy(\.isNumber)
    }
}
