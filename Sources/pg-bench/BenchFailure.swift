/// Why a run could not finish, and what to do about it. Printed to stderr; exit status 1.
struct BenchFailure: Error, CustomStringConvertible {
    let message: String
    let hint: String?

    init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    var description: String {
        guard let hint else { return message }
        return "\(message)\nhint: \(hint)"
    }
}
