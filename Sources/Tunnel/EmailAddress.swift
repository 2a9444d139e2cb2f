// Email addresses as the portal uses them: trimmed and lower-cased before they name a
import Foundation
// mailbox or enter a key derivation (DESIGN §11), and checked for a plausible addr-spec.
public enum EmailAddress {
    public static func normalize(_ address: String) -> String {
        address.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// A deliberately plain check of an RFC 5321 mailbox: one "@", a non-empty local part of
    /// printable ASCII without specials, and a dotted domain of letters, digits and hyphens.
    public static func isValid(_ raw: String) -> Bool {
        let address = normalize(raw)
        guard address.utf8.count <= 254 else { return false }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, let local = parts.first, let domain = parts.last,
              !local.isEmpty, local.utf8.count <= 64, !domain.isEmpty else { return false }
        let localAllowed = Set("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~.".utf8)
        guard local.utf8.allSatisfy(localAllowed.contains), !local.hasPrefix("."), !local.hasSuffix("."),
              !local.contains("..") else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        let labelAllowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-".utf8)
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.utf8.allSatisfy(labelAllowed.contains)
                && !label.hasPrefix("-") && !label.hasSuffix("-")
        }
    }
}
