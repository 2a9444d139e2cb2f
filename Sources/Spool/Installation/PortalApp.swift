// The portal app's static files (www/index.html and www/assets/) and how `spoolrun setup`
// finds them to install them into a new web root: `--app DIR`, else $SPOOLRUN_APP, else
// PREFIX/share/spoolrun/www next to an installed binary, else the www/ of the source tree
// the binary was built in.
import Foundation

public enum PortalApp {
    /// A directory holds the app when it has these.
    static let marker = ["index.html", "assets/app.js", "assets/sealed.js"]

    public static func locate(explicit: String? = nil) -> String? {
        func holdsApp(_ c: String) -> Bool { marker.allSatisfy { FileManager.default.isReadableFile(atPath: c + "/" + $0) } }
        if let explicit { return holdsApp(explicit) ? explicit : nil }  // an explicit choice is never second-guessed
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["SPOOLRUN_APP"], !env.isEmpty { candidates.append(env) }
        // The running binary itself (not argv[0], which is a bare name when found on PATH).
        let binary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let exe = URL(fileURLWithPath: binary).resolvingSymlinksInPath().deletingLastPathComponent()
        candidates.append(exe.appendingPathComponent("../share/spoolrun/www").standardizedFileURL.path)
        var dir = exe
        for _ in 0..<6 {
            candidates.append(dir.appendingPathComponent("www").path)
            dir.deleteLastPathComponent()
        }
        return candidates.first(where: holdsApp)
    }

    /// Copies index.html and assets/ from `source` into `www`, each file atomically, and
    /// only the files that differ: returns how many were written.
    @discardableResult
    public static func install(from source: String, to www: String) throws -> Int {
        let from = (source as NSString).standardizingPath, to = (www as NSString).standardizingPath
        guard from != to else { return 0 }
        var files = ["index.html"]
        let assets = (try? FileManager.default.contentsOfDirectory(atPath: from + "/assets")) ?? []
        files += assets.filter { !$0.hasPrefix(".") }.sorted().map { "assets/" + $0 }
        try FileSystem.makeDirectory(to + "/assets", mode: 0o755)
        var written = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: from + "/" + file) else {
                throw SetupError(message: "the portal app file \(from)/\(file) cannot be read")
            }
            if FileManager.default.contents(atPath: to + "/" + file) == data { continue }
            try FileSystem.writeAtomically([UInt8](data), to: to + "/" + file, mode: 0o644)
            written += 1
        }
        return written
    }
}
