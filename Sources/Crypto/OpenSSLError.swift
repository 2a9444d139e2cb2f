// Turns OpenSSL's thread-local error queue into a Swift error. The queue is cleared before
// each operation and drained after it, so one failure never leaks into the next message.
internal import COpenSSL

/// A failed OpenSSL call: what we were doing, and what OpenSSL said about it.
public struct OpenSSLError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let reasons: [String]

    package init(operation: String, reasons: [String]) {
        self.operation = operation
        self.reasons = reasons
    }

    public var description: String {
        reasons.isEmpty ? operation : "\(operation): \(reasons.joined(separator: "; "))"
    }

    /// Drains the queue into an error for `operation`.
    package static func drain(_ operation: String) -> OpenSSLError {
        OpenSSLError(operation: operation, reasons: OpenSSLErrorQueue.drain())
    }
}

package enum OpenSSLErrorQueue {
    package static func clear() { ERR_clear_error() }

    /// Reads every queued error. `ERR_error_string_n` alone often says only "certificate
    /// verify error"; the useful reason is in the `data` out-parameter of ERR_get_error_all.
    package static func drain() -> [String] {
        var out: [String] = []
        while true {
            var data: UnsafePointer<CChar>? = nil
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            var line = String(cString: buf)
            if let data, (flags & ERR_TXT_STRING) != 0 {
                let extra = String(cString: data)
                if !extra.isEmpty { line += " (\(extra))" }
            }
            out.append(line)
        }
        return out
    }
}
