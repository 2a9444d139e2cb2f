// A file of recipients for the gateway filter (issue 7): gateway.toml's `direct_recipients`
// (who can already receive encrypted mail, so is not routed to webmail) and `otp_recipients`
// (who gets every encrypted message as an OTP PDF). One entry per line:
//   bob@ext.example      that address
//   @ext.example         every address at that domain (`ext.example` alone means the same)
//   .ext.example         every address at any subdomain of it (not the domain itself)
// Blank lines and `#` comments are skipped; case does not matter. A line that is none of
// these is an error naming the file and line, so a typo never silently routes mail.
import Foundation
import Tunnel

public struct AddressList: Sendable, Equatable {
    public private(set) var addresses: Set<String> = []
    public private(set) var domains: Set<String> = []
    public private(set) var subdomainsOf: Set<String> = []

    public init() {}

    public static func load(path: String) throws -> AddressList {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigError(file: path, key: nil, problem: "cannot be read (\((error as NSError).localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, key: nil, problem: "is not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> AddressList {
        var list = AddressList()
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let entry = EmailAddress.normalize(String(line))
            guard !entry.isEmpty else { continue }
            let problem = ConfigError(file: file, key: "line \(index + 1)",
                                      problem: "\"\(entry)\" is not an address, @domain or .domain")
            if entry.hasPrefix(".") {
                guard isDomain(String(entry.dropFirst())) else { throw problem }
                list.subdomainsOf.insert(String(entry.dropFirst()))
            } else if entry.hasPrefix("@") {
                guard isDomain(String(entry.dropFirst())) else { throw problem }
                list.domains.insert(String(entry.dropFirst()))
            } else if entry.contains("@") {
                guard EmailAddress.isValid(entry) else { throw problem }
                list.addresses.insert(entry)
            } else {
                guard isDomain(entry) else { throw problem }
                list.domains.insert(entry)
            }
        }
        return list
    }

    public var isEmpty: Bool { addresses.isEmpty && domains.isEmpty && subdomainsOf.isEmpty }

    public func contains(_ address: String) -> Bool {
        let a = EmailAddress.normalize(address)
        if addresses.contains(a) { return true }
        guard let at = a.lastIndex(of: "@") else { return false }
        let domain = String(a[a.index(after: at)...])
        if domains.contains(domain) { return true }
        // Every parent of the domain, for ".parent" entries.
        var rest = Substring(domain)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if subdomainsOf.contains(String(rest)) { return true }
        }
        return false
    }

    private static func isDomain(_ s: String) -> Bool { EmailAddress.isValid("x@" + s) }
}
