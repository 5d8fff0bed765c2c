public import Foundation

/// Finds the `sql/` folder of migrations: `--migrations DIR`, else
/// `$MIGRATIONS_DIR`, else `./sql`, else the nearest `sql/` above the executable
/// (so a binary under `.build/release/` finds the checkout's folder).
public enum MigrationsDirectory {
    public static let help = """
          --migrations DIR     folder of NNNN_name.sql files (default: $MIGRATIONS_DIR, ./sql,
                               or the sql/ folder above the executable)
        """
    /// `help`'s option, declared for `--describe-json`.
    public static let option = CommandOption.value("--migrations", "DIR")

    public static func resolve(explicit: String?) throws -> URL {
        let fileManager = FileManager.default
        if let explicit = explicit ?? ProcessInfo.processInfo.environment["MIGRATIONS_DIR"] {
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: explicit, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandError.failed("migrations folder \(explicit) does not exist")
            }
            return URL(fileURLWithPath: explicit)
        }
        var candidates = [URL(fileURLWithPath: fileManager.currentDirectoryPath).appendingPathComponent("sql")]
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(folder.appendingPathComponent("sql"))
            folder = folder.deletingLastPathComponent()
        }
        for candidate in candidates where fileManager.fileExists(atPath: candidate.appendingPathComponent("0001_queue_jobs.sql").path) {
            return candidate
        }
        throw CommandError.failed(
            "cannot find the migrations folder (sql/); run from the project folder or set MIGRATIONS_DIR")
    }
}
