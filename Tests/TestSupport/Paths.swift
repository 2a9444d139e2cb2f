// Where things are: the repository, the built binary, ../shared, and scratch folders.
import Foundation

public enum Paths {
    /// The repository root, found from this file's location.
    public static let repo: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The shared folder beside the repository (read-only in CI: never written).
    public static var shared: String { (repo as NSString).appendingPathComponent("../shared") }

    public static var corpus: String { (shared as NSString).appendingPathComponent("corpus") }

    /// The spoolrun binary of the build that runs these tests.
    public static let spoolrun: String = {
        // The test runner (on Linux the .xctest executable itself, Bundle.main's executable)
        // lives next to the products of the same build, so `make test-asan` drives the ASan
        // build's spoolrun, not .build/debug's.
        let runner = Bundle.main.executableURL?.deletingLastPathComponent() ?? Bundle.main.bundleURL
        for dir in [runner, URL(fileURLWithPath: repo).appendingPathComponent(".build/debug")] {
            let candidate = dir.appendingPathComponent("spoolrun").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return URL(fileURLWithPath: repo).appendingPathComponent(".build/debug/spoolrun").path
    }()

    public static var tunnelFactory: String { (repo as NSString).appendingPathComponent("Tests/Support/tunnel_factory.py") }
}

/// A fresh scratch folder, removed when the value is released.
public final class TemporaryDirectory {
    public let path: String

    public init(_ label: String = "spoolrun-test") throws {
        let template = (NSTemporaryDirectory() as NSString).appendingPathComponent("\(label).XXXXXX")
        var bytes = Array(template.utf8CString)
        guard let p = mkdtemp(&bytes) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: p)
    }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

public extension String {
    func appending(path component: String) -> String { (self as NSString).appendingPathComponent(component) }
}
