import Foundation

/// Output goes straight to the file descriptors, unbuffered, so progress lines show
/// up while a run is in progress even when stdout is a pipe (`stdout`/`fflush` are
/// not concurrency-safe globals in Swift 6).
enum Console {
    static func line(_ text: String = "") {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
