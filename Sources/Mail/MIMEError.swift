// Errors from reading MIME entities. They name what was wrong, never the content.
public struct MIMEError: Error, CustomStringConvertible, Sendable, Equatable {
    public let problem: String
    public init(_ problem: String) { self.problem = problem }
    public var description: String { problem }
}
