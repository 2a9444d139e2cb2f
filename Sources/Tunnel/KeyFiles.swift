// Loading the portal's keys and pinned certificates. Like ssh, a private key that group or
// others can read is refused before anything else happens (DESIGN §8).
import Foundation
import Crypto

public struct KeyFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public var description: String { "\(path): \(problem)" }

    package init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }
}

public enum KeyFiles {
    /// Refuses a private key file that is not a regular file or that group/others can access.
    public static func checkPrivateKeyPermissions(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw KeyFileError(path: path, problem: "private key cannot be read: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw KeyFileError(path: path, problem: "private key is not a regular file") }
        let mode = st.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw KeyFileError(
                path: path,
                problem: "private key is accessible by group or others (mode \(String(mode, radix: 8))); run: chmod 600 \(path)")
        }
    }

    public static func loadPrivateKey(_ path: String) throws -> PrivateKey {
        try checkPrivateKeyPermissions(path)
        do { return try PrivateKey(contentsOf: path) } catch {
            throw KeyFileError(path: path, problem: "is not a usable private key (\(error))")
        }
    }

    public static func loadCertificate(_ path: String, role: String) throws -> Certificate {
        guard FileManager.default.fileExists(atPath: path) else {
            throw KeyFileError(path: path, problem: "\(role) certificate is missing")
        }
        do { return try Certificate(contentsOf: path) } catch {
            throw KeyFileError(path: path, problem: "is not a usable \(role) certificate (\(error))")
        }
    }
}
