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

    /// `arguments` reads `--migrations`; a folder named there that does not exist is a usage error.
    public static func resolve(_ arguments: inout Arguments) throws -> URL {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        if let explicit = try arguments.option("--migrations") {
            guard fileManager.fileExists(atPath: explicit, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandError.usage("--migrations \(explicit) is not a folder", command: arguments.commandName)
            }
            return URL(fileURLWithPath: explicit)
        }
        return try resolve()
    }

    /// `$MIGRATIONS_DIR`, else `./sql`, else the `sql/` folder above the executable.
    public static func resolve() throws -> URL {
        let fileManager = FileManager.default
        if let variable = ProcessInfo.processInfo.environment["MIGRATIONS_DIR"] {
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: variable, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandError.failed("MIGRATIONS_DIR \(variable) is not a folder")
            }
            return URL(fileURLWithPath: variable)
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
