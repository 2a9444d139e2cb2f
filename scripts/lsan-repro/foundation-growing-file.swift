// Shows the swift-foundation leak that scripts/lsan.supp suppresses (readBytesFromFile):
// FileManager.contents(atPath:) on a file another thread appends to loses buffers.
//   swiftc -sanitize=address foundation-growing-file.swift -o /tmp/repro && /tmp/repro
// With Swift 6.3.1 on Debian 12: "Direct leak of ... allocated from ... readBytesFromFile".
// When a Swift upgrade makes this print no leak, remove the suppression.
import Foundation

let path = NSTemporaryDirectory() + "/growing-file-\(getpid()).txt"
FileManager.default.createFile(atPath: path, contents: nil)
let handle = FileHandle(forWritingAtPath: path)!
let writer = Thread { for _ in 0..<200_000 { handle.write(Data(repeating: 65, count: 100)) } }
writer.start()
var total = 0
for _ in 0..<300 { total += FileManager.default.contents(atPath: path)?.count ?? 0 }
print("read \(total) bytes")
try? FileManager.default.removeItem(atPath: path)
