// What an OTP-mode PDF is made from (DESIGN §7): the header fields, the body and the
// attachments of one message, already parsed. Plain Swift values; no C type appears here.

public struct PDFDocument: Sendable {
    /// The body as the message carries it; `OTPPDF` turns HTML into text through the
    /// sanitizer's text rendering, so the PDF shows only what the sanitizer would show.
    public enum Body: Sendable, Equatable {
        /// A text/plain body, already decoded from its charset.
        case plain(String)
        /// A text/html body: its bytes and the MIME part's charset parameter.
        case html([UInt8], charset: String?)
    }

    public struct Attachment: Sendable, Equatable {
        /// The original file name (Unicode), as the recipient should see it. Any directory
        /// part is dropped before it goes into the PDF.
        public var name: String
        public var data: [UInt8]

        public init(name: String, data: [UInt8]) {
            self.name = name
            self.data = data
        }
    }

    public var from: String
    public var to: String
    /// Left out of the header block when empty.
    public var cc: String
    public var date: String
    public var subject: String
    public var body: Body
    public var attachments: [Attachment]
    /// The document title (Info /Title); empty means the subject.
    public var title: String

    public init(from: String, to: String, cc: String = "", date: String, subject: String,
                body: Body, attachments: [Attachment] = [], title: String = "") {
        self.from = from
        self.to = to
        self.cc = cc
        self.date = date
        self.subject = subject
        self.body = body
        self.attachments = attachments
        self.title = title
    }

    /// The body as lines of text: plain text as is, HTML as the sanitizer's text rendering.
    var bodyText: String {
        switch body {
        case .plain(let text): return text
        case .html(let bytes, let charset): return HTMLSanitizer.textRendering(bytes, charset: charset)
        }
    }

    /// The title the PDF's Info dictionary carries.
    var effectiveTitle: String {
        if !title.isEmpty { return title }
        return subject.isEmpty ? "(no subject)" : subject
    }
}
