// `spoolrun-fuzz`: the fuzz targets (FuzzTargets) as one program. Built by scripts/fuzz.sh
// with `-sanitize=fuzzer,address -parse-as-library -D SPOOLRUN_LIBFUZZER`, libFuzzer calls
// the target named by $SPOOLRUN_FUZZ_TARGET. In an ordinary build it replays files:
// `spoolrun-fuzz TARGET FILE...` runs each through the target, as a crash reproducer.
import Foundation
import FuzzTargets

#if SPOOLRUN_LIBFUZZER
@_cdecl("LLVMFuzzerTestOneInput")
public func spoolrunFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTarget.selected.run(bytes)
    return 0
}

/// libFuzzer's driver (compiler-rt, LLVM 11 and later).
// The C symbol's own name.
// swift-format-ignore: AlwaysUseLowerCamelCase
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM makes an executable's entry point a function named after the target; here it
/// hands over to libFuzzer.
@_cdecl("spoolrun_fuzz_main")
public func spoolrunFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    atexit { FuzzTarget.removeInstallation() }
    return LLVMFuzzerRunDriver(&count, &vector, spoolrunFuzzOne)
}
#else
@main
struct SpoolrunFuzz {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            FileHandle.standardError.write(Data("usage: spoolrun-fuzz \(names) FILE...\n".utf8))
            exit(64)
        }
        for file in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("spoolrun-fuzz: cannot read \(file)\n".utf8))
                exit(66)
            }
            target.run([UInt8](data))
        }
        FuzzTarget.removeInstallation()
        print("spoolrun-fuzz: \(arguments.count - 1) input(s) through \(name), no finding")
    }
}
#endif
