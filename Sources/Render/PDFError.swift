// The one error the PDF side of Render throws: which step failed and the library's words.

public struct PDFError: Error, CustomStringConvertible, Sendable {
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { "PDF: \(message)" }
}
