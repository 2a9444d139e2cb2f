// The public face of the HTML sanitizer: what a caller passes in (bytes, the MIME part's
// charset, a policy) and what comes back. The libxml2 work sits in the files that import
// CLibXML2; no C type appears here.

/// What the sanitizer may let through for one rendering of one message.
public struct SanitizerPolicy: Sendable {
    /// Remote (http/https) images are dropped unless this is set: loading them tells the
    /// sender when and where the message was read. The portal sets it for one message when
    /// the reader asks to see them.
    public var allowRemoteImages = false

    /// Maps the Content-ID of an inline part (without angle brackets, percent-decoded as
    /// RFC 2392 §2 asks) to the local reference the portal uses for it, e.g. "att-3".
    /// An image whose Content-ID resolves to nil is removed.
    public var resolveContentID: @Sendable (String) -> String?

    public init(allowRemoteImages: Bool = false,
                resolveContentID: @escaping @Sendable (String) -> String? = { _ in nil }) {
        self.allowRemoteImages = allowRemoteImages
        self.resolveContentID = resolveContentID
    }
}

/// A sanitized body fragment, ready to be placed inside a `<body>` whose document is UTF-8.
public struct SanitizedHTML: Sendable, Equatable {
    /// The body's content as an HTML fragment in UTF-8 (no `<html>`, `<head>` or `<body>`).
    public let html: String
    /// How many `<img>` elements lost a remote source, so the portal can offer to show them.
    public let blockedRemoteImages: Int

    public init(html: String, blockedRemoteImages: Int) {
        self.html = html
        self.blockedRemoteImages = blockedRemoteImages
    }
}

public enum HTMLSanitizer {
    /// Parses `html` as the MIME part's `charset` says (a `<meta charset>` inside cannot
    /// override it), keeps only allow-listed elements, attributes, URLs and CSS, and writes
    /// the result out again with a serializer that can emit nothing else.
    public static func sanitize(_ html: [UInt8], charset: String?, policy: SanitizerPolicy) -> SanitizedHTML {
        guard let document = LibXML2Document(html: html, charset: charset) else {
            return SanitizedHTML(html: "", blockedRemoteImages: 0)
        }
        let blocked = HTMLCleaner(policy: policy).clean(document)
        return SanitizedHTML(html: HTMLSerializer.serialize(document), blockedRemoteImages: blocked)
    }

    /// The text of an HTML body for media that show no HTML (the PDF): paragraphs and line
    /// breaks kept, list items marked, links written out as "text (url)". Only what the
    /// sanitizer would show is rendered.
    public static func textRendering(_ html: [UInt8], charset: String?) -> String {
        guard let document = LibXML2Document(html: html, charset: charset) else { return "" }
        // Inline images stay (their alt text is rendered); no image is loaded from text.
        _ = HTMLCleaner(policy: SanitizerPolicy(resolveContentID: { $0 })).clean(document)
        return TextRenderer.render(document)
    }
}
