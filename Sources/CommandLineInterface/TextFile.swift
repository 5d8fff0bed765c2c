import Foundation

/// Text files named by options and variables (URLs, tokens, job arguments): read as
/// strict UTF-8, never with invalid bytes replaced, and refused with an error that
/// says which of the two problems it is.
public enum TextFile {
    public enum Problem: Error, CustomStringConvertible {
        case unreadable(path: String, what: String)
        case notUTF8(path: String, what: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let what): "cannot read \(what) \(path); check the path and its permissions"
            case .notUTF8(let path, let what): "\(what) \(path) is not valid UTF-8 text; save it as UTF-8"
            }
        }
    }

    /// The contents of `path` ("-": standard input); `what` names it in errors.
    public static func read(_ path: String, what: String) throws(Problem) -> String {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw .unreadable(path: path, what: what)
            }
            data = contents
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .notUTF8(path: path, what: what) }
        return text
    }
}
