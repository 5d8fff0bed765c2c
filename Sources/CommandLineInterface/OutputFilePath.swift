import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file a command will write at its end (a report), checked when the command
/// line is read.
///
/// A payout run that settles and pays everyone and only then finds it cannot write
/// its CSV leaves finance without the report of money already moved; the check
/// here refuses the path before anything happens. (Writing can still fail later —
/// a full disk — but not for a reason visible now.)
public enum OutputFilePath {
    /// Throws a usage error naming `option` unless `path` names a writable file or
    /// a file that can be created in an existing, writable folder.
    public static func check(_ path: String, option: String, command: String) throws {
        func refuse(_ reason: String) -> CommandError {
            .usage("\(option) \(path): \(reason)", command: command)
        }
        guard !path.isEmpty else { throw refuse("the path is empty; give a file name") }
        guard !path.utf8.contains(0) else { throw refuse("the path contains a NUL character") }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard !isDirectory.boolValue else { throw refuse("is a folder; give a file name inside it") }
            guard access(path, W_OK) == 0 else { throw refuse("exists and is not writable; check its permissions") }
            return
        }
        let folder = (path as NSString).deletingLastPathComponent
        let folderPath = folder.isEmpty ? "." : folder
        guard FileManager.default.fileExists(atPath: folderPath, isDirectory: &isDirectory), isDirectory.boolValue
        else { throw refuse("folder \(folderPath) does not exist; create it first") }
        guard access(folderPath, W_OK | X_OK) == 0 else {
            throw refuse("folder \(folderPath) is not writable; choose another place or fix its permissions")
        }
    }
}
