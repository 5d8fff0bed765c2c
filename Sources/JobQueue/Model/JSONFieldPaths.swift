/// The field paths of a JSON text's objects, read in one pass over its bytes: the
/// quick form of the strict arguments check (`JobArguments.decode`). The full check
/// parses the given text and the re-encoded value with `JSONSerialization` and walks
/// both trees; on a worker that is most of the cost of a handler's start (~0.05 ms of
/// cold code per job on the 2-core machine). When every non-null field the given
/// text names is one the re-encoded value names too, no field is unknown; otherwise
/// the full check runs and words the refusal.
///
/// Paths are the raw key texts, escapes as written, joined by a byte that cannot occur
/// unescaped in JSON text (so `{"a.b": 1}` and `{"a": {"b": 1}}` differ). Like the
/// full check, it does not look inside arrays. Reads well-formed JSON only (the
/// caller's text decoded already); on anything else the quick check finds nothing
/// trustworthy and the caller falls back to the full one.
struct JSONFieldPaths {
    /// Every field path, null or not.
    private(set) var all: Set<[UInt8]> = []
    /// The paths whose value is not null.
    private(set) var present: [[UInt8]] = []
    /// Whether the text is one object, read to its end.
    private(set) var isObject = false

    private static let separator: UInt8 = 0x01

    /// A container open while reading: an object with its path (nil inside arrays:
    /// not tracked), or an array.
    private enum Container { case object([UInt8]?), array }

    init(_ text: some Collection<UInt8>) {
        let bytes = Array(text)
        var index = 0
        func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }
        /// Reads a string starting at its opening quote; returns its raw text.
        func string() -> ArraySlice<UInt8>? {
            let start = index + 1
            index = start
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"): index += 2
                case UInt8(ascii: "\""):
                    defer { index += 1 }
                    return bytes[start..<index]
                default: index += 1
                }
            }
            return nil
        }
        var open: [Container] = []
        var expectKey = false
        // The path of the value about to be read (the root object's is empty).
        var pendingPath: [UInt8]? = []
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return }
        while index < bytes.count {
            skipSpace()
            guard index < bytes.count else { break }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"):
                open.append(.object(pendingPath))
                pendingPath = nil
                expectKey = true
                index += 1
            case UInt8(ascii: "["):
                open.append(.array)
                pendingPath = nil
                expectKey = false
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard open.popLast() != nil else { return }
                expectKey = false
                index += 1
                if open.isEmpty {
                    skipSpace()
                    isObject = index == bytes.count
                    return
                }
            case UInt8(ascii: ","):
                if case .object? = open.last { expectKey = true }
                index += 1
            case UInt8(ascii: ":"):
                index += 1
            case UInt8(ascii: "\""):
                guard let text = string() else { return }
                guard expectKey, case .object(let parent)? = open.last else {
                    pendingPath = nil
                    continue
                }
                expectKey = false
                guard let parent else { continue }
                let path = parent.isEmpty && open.count == 1 ? Array(text) : parent + [Self.separator] + text
                all.insert(path)
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return }
                index += 1
                skipSpace()
                guard index < bytes.count else { return }
                if bytes[index] != UInt8(ascii: "n") { present.append(path) }
                pendingPath = path
            default:
                // A number, true, false or null: up to the next delimiter.
                pendingPath = nil
                while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(bytes[index]) {
                    index += 1
                }
            }
        }
    }

    /// True when `given` is one object and every field it gives a value is a field of
    /// `known` (false: unknown, or not sure).
    static func allPresent(_ given: JSONFieldPaths, in known: JSONFieldPaths) -> Bool {
        given.isObject && known.isObject && given.present.allSatisfy(known.all.contains)
    }
}
