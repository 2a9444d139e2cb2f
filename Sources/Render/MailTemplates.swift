// The texts of the portal's own mail: Mustache templates (swift-mustache). The shipped
// English set is compiled in from Sources/Render/Templates; an administrator overrides any
// of them by putting a file of the same name in the directory `mail.templates` names
// (docs/operations.md). Each kind has a subject, a text body and, where it helps, an HTML
// body: NAME.subject.mustache, NAME.txt.mustache, NAME.html.mustache. Values are escaped in
// the HTML templates and taken as they are in the others.
import Foundation
import Mustache

public enum MailKind: String, Sendable, CaseIterable {
    case notification
    case passwordNotice = "password-notice"
    case readReceipt = "read-receipt"
    case otpPDF = "otp-pdf"
    case heldNotice = "held-notice"
}

public struct RenderedMailText: Sendable, Equatable {
    public var subject: String
    public var text: String
    public var html: String?
}

/// A value for a template: text, or a flag that opens or skips a section.
public enum TemplateValue: Sendable, Equatable {
    case text(String)
    case flag(Bool)
}

public struct TemplateError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let problem: String
    public var description: String { "\(file): \(problem)" }
}

public struct MailTemplates: Sendable {
    private let templates: [String: MustacheTemplate]
    /// Where each template came from ("built-in" or a file path), for `outbox show` and errors.
    public let sources: [String: String]

    static let parts = ["subject", "txt", "html"]

    /// The file names a template directory may hold.
    public static var fileNames: [String] {
        MailKind.allCases.flatMap { kind in parts.map { "\(kind.rawValue).\($0).mustache" } }
            .filter { builtIn[$0] != nil }
    }

    static let builtIn: [String: [UInt8]] = [
        "notification.subject.mustache": PackageResources.notification_subject_mustache,
        "notification.txt.mustache": PackageResources.notification_txt_mustache,
        "notification.html.mustache": PackageResources.notification_html_mustache,
        "password-notice.subject.mustache": PackageResources.password_notice_subject_mustache,
        "password-notice.txt.mustache": PackageResources.password_notice_txt_mustache,
        "read-receipt.subject.mustache": PackageResources.read_receipt_subject_mustache,
        "read-receipt.txt.mustache": PackageResources.read_receipt_txt_mustache,
        "otp-pdf.subject.mustache": PackageResources.otp_pdf_subject_mustache,
        "otp-pdf.txt.mustache": PackageResources.otp_pdf_txt_mustache,
        "otp-pdf.html.mustache": PackageResources.otp_pdf_html_mustache,
        "held-notice.subject.mustache": PackageResources.held_notice_subject_mustache,
        "held-notice.txt.mustache": PackageResources.held_notice_txt_mustache,
    ]

    /// The shipped template called `name`, as text (for `spoolrun templates` and the docs).
    public static func builtInText(_ name: String) -> String? {
        builtIn[name].map { String(decoding: $0, as: UTF8.self) }
    }

    /// The built-in set, with the files of `overrides` (if given) in place of theirs. A file
    /// there that is not a template name, or that does not parse, is an error naming it.
    public static func load(overrides directory: String?) throws -> MailTemplates {
        var texts: [String: (String, String)] = [:]
        for (name, bytes) in builtIn { texts[name] = (String(decoding: bytes, as: UTF8.self), "built-in") }
        if let directory {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                throw TemplateError(file: directory, problem: "cannot read the template directory")
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                let path = (directory as NSString).appendingPathComponent(name)
                guard builtIn[name] != nil else {
                    // An HTML part the shipped set lacks (e.g. password-notice.html) may be added.
                    guard name.hasSuffix(".html.mustache"),
                          MailKind(rawValue: String(name.dropLast(".html.mustache".count))) != nil else {
                        throw TemplateError(file: path, problem: "is not a template name; expected one of "
                                            + fileNames.joined(separator: ", "))
                    }
                    texts[name] = (try read(path), path)
                    continue
                }
                texts[name] = (try read(path), path)
            }
        }
        var templates: [String: MustacheTemplate] = [:]
        var sources: [String: String] = [:]
        for (name, (text, source)) in texts {
            // Values are escaped for HTML only in the HTML templates.
            let body = name.hasSuffix(".html.mustache") ? text : "{{% CONTENT_TYPE: TEXT}}" + text
            do {
                templates[name] = try MustacheTemplate(string: body)
            } catch {
                throw TemplateError(file: source == "built-in" ? name : source, problem: "is not a valid Mustache template (\(error))")
            }
            sources[name] = source
        }
        return MailTemplates(templates: templates, sources: sources)
    }

    private static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TemplateError(file: path, problem: "cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw TemplateError(file: path, problem: "is not UTF-8") }
        return text
    }

    /// The subject (one line, trimmed), the text body, and the HTML body if the kind has one.
    public func render(_ kind: MailKind, _ values: [String: TemplateValue]) -> RenderedMailText {
        var context: [String: Any] = [:]
        for (k, v) in values {
            switch v {
            case .text(let s): context[k] = s.isEmpty ? false : s  // an empty value closes its section
            case .flag(let b): context[k] = b
            }
        }
        func part(_ p: String) -> String? { templates["\(kind.rawValue).\(p).mustache"]?.render(context) }
        let subject = (part("subject") ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        let text = Self.tidy(part("txt") ?? "")
        return RenderedMailText(subject: subject, text: text, html: part("html"))
    }

    /// Section tags on lines of their own leave blank lines behind: at most one blank line in
    /// a row, and one final newline.
    static func tidy(_ text: String) -> String {
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }.isEmpty && !line.isEmpty ? Substring("") : line
            if trimmed.isEmpty, lines.last?.isEmpty == true { continue }
            lines.append(trimmed)
        }
        while lines.first?.isEmpty == true { lines.removeFirst() }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }
}
