// Encrypts a finished PDF with qpdf's C API: AES-256 (security handler R6), a user password
// that is needed to open it, every permission granted (printing and copying stay allowed),
// and metadata encrypted too. libharu's RC4 is never used (DESIGN §7).
//
// qpdf writes to a file, not to its memory buffer: its in-memory output grows a string by
// doubling and is then copied out, about three times the PDF's size at the peak. Written to
// a file, only the input PDF and qpdf's small per-object state are in memory.
import CQPDF
import Glibc

public enum PDFEncryptor {
    /// `pdf` encrypted under `password`, written to `path` (created or truncated). The
    /// caller makes it durable and renames it into place.
    public static func encrypt(_ pdf: [UInt8], password: String, to path: String) throws {
        try write(pdf, password: password, toFileNamed: path)
    }

    /// `pdf` encrypted under `password`, returned as bytes. qpdf writes into an unnamed
    /// scratch file in `scratchDirectory` (only ciphertext ever goes there).
    public static func encrypt(_ pdf: [UInt8], password: String,
                               scratchDirectory: String? = nil) throws -> [UInt8] {
        let scratch = try scratchDirectory.map { try UnnamedScratchFile(in: $0) } ?? UnnamedScratchFile()
        try write(pdf, password: password, toFileNamed: scratch.procPath)
        return try scratch.readAll()
    }

    /// The owner password is a fresh random one that nobody keeps: there is nothing to unlock
    /// beyond opening, as all is permitted. Throws if qpdf reports an error or any warning
    /// (the input is our own PDF, so a warning means a bug, not a quirk to accept).
    static func write(_ pdf: [UInt8], password: String, toFileNamed path: String) throws {
        guard !password.isEmpty, !password.utf8.contains(0) else {
            throw PDFError("the password must be non-empty text")
        }
        let owner = OneTimePassword.generate() + OneTimePassword.generate()
        // qpdf's C API keeps the input description and the output file name as the pointers
        // it is given (QPDFWriter reads the name again when it sets the encryption and makes
        // the file's /ID), so they must outlive the session, not just one call: a String's
        // temporary C string was freed too early (AddressSanitizer found the use after free).
        guard let description = strdup("rendered PDF"), let outputName = strdup(path) else {
            throw PDFError("no memory for qpdf's file names")
        }
        defer {
            free(description)
            free(outputName)
        }
        guard let q = qpdf_init() else { throw PDFError("qpdf could not start") }
        var handle: qpdf_data? = q
        defer { qpdf_cleanup(&handle) }
        qpdf_set_suppress_warnings(q, QPDF_TRUE)

        // qpdf reads the buffer lazily while writing, so everything happens inside the
        // scope in which the input bytes are pinned.
        try pdf.withUnsafeBufferPointer { input in
            try input.withMemoryRebound(to: CChar.self) { chars in
                try check(q, qpdf_read_memory(q, description, chars.baseAddress, UInt64(chars.count), nil), "reading")
            }
            try check(q, qpdf_init_write(q, outputName), "opening the output")
            // libharu compressed every stream already: pass them through (only encrypted)
            // rather than let qpdf inflate and deflate them again.
            qpdf_set_stream_data_mode(q, qpdf_s_preserve)
            qpdf_set_r6_encryption_parameters2(
                q, password, owner,
                QPDF_TRUE, QPDF_TRUE, QPDF_TRUE, QPDF_TRUE, QPDF_TRUE, QPDF_TRUE,
                qpdf_r3p_full, QPDF_TRUE)
            try check(q, qpdf_has_error(q) == QPDF_TRUE ? QPDF_ERRORS : QPDF_SUCCESS, "setting the encryption")
            try check(q, qpdf_write(q), "encrypting")
        }
        if qpdf_more_warnings(q) == QPDF_TRUE {
            var warnings: [String] = []
            for _ in 0..<20 {
                guard let w = qpdf_next_warning(q) else { break }
                warnings.append(String(cString: qpdf_get_error_full_text(q, w)))
            }
            throw PDFError("qpdf warned: " + warnings.joined(separator: "; "))
        }
    }

    private static func check(_ q: qpdf_data, _ code: QPDF_ERROR_CODE, _ step: String) throws {
        guard code & QPDF_ERRORS != 0 else { return }
        var text = "unknown error"
        if let e = qpdf_get_error(q), let full = qpdf_get_error_full_text(q, e) {
            text = String(cString: full)
        }
        throw PDFError("qpdf failed at \(step): \(text)")
    }
}
