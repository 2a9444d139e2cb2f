// A scratch file that has no name from the moment it exists: created with mkstemp, unlinked
// at once, reached through /proc/self/fd. A C library that only writes to a file name (qpdf)
// can write into it, and nothing is left behind whatever happens to the process.
import Foundation

final class UnnamedScratchFile {
    let descriptor: Int32

    /// A fresh unnamed file in `directory` (default: the temporary directory).
    init(in directory: String = NSTemporaryDirectory()) throws {
        var template = Array(((directory as NSString).appendingPathComponent("spoolrun-pdf.XXXXXX")).utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw PDFError("cannot create a scratch file in \(directory): errno \(errno)") }
        let name = String(cString: template)
        unlink(name)
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }

    /// A name by which the file can be opened again while this object lives (Linux).
    var procPath: String { "/proc/self/fd/\(descriptor)" }

    /// The whole content, read into one array of exactly its size.
    func readAll() throws -> [UInt8] {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { throw PDFError("cannot stat the scratch file: errno \(errno)") }
        let size = Int(st.st_size)
        var readError: Int32 = 0
        let out = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var done = 0
            // Bounded: each round reads at least one byte or stops.
            while done < size {
                let n = pread(descriptor, buffer.baseAddress! + done, size - done, off_t(done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    readError = n < 0 ? errno : -1
                    break
                }
                done += n
            }
            count = done
        }
        guard out.count == size else {
            throw PDFError("read \(out.count) of \(size) bytes of the scratch file (errno \(readError))")
        }
        return out
    }
}
