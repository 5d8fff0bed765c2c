import Foundation

/// The typed arguments of one kind of job. The kind names the handler; the value
/// is stored as JSON in the job row.
///
///     struct SendReceipt: JobArguments {
///         static let kind = "send_receipt"
///         var orderID: Int64
///         func validate() throws {
///             if orderID < 1 { throw JobArgumentsError("orderID must be at least 1") }
///         }
///     }
public protocol JobArguments: Codable, Sendable {
    static var kind: String { get }

    /// Checks what the types alone cannot (ranges, non-empty text …) and throws
    /// `JobArgumentsError` with the reason. Runs when a `JobRequest` is built from
    /// these arguments and when a handler decodes them, so a bad argument fails at
    /// enqueue instead of after retries in a worker.
    func validate() throws(JobArgumentsError)
}

extension JobArguments {
    public func validate() throws(JobArgumentsError) {}

    /// Decodes arguments from their JSON text and validates them. Strict: a field
    /// the type does not have is refused (a misspelt optional field would otherwise
    /// be dropped without a word), and a kind without arguments accepts only `{}`.
    public static func decode(fromJSON json: String) throws(JobArgumentsError) -> Self {
        let arguments: Self
        // Plain flat objects, most jobs' arguments, without `JSONDecoder`: the same value,
        // in less cold code on a worker that sleeps between jobs; anything else, and every
        // refusal, goes through `JSONDecoder`.
        let flat = FlatJSONObject(json)
        if let value = flat?.decode(Self.self) {
            arguments = value
        } else {
            do {
                arguments = try JobJSON.decoder.decode(Self.self, from: Data(json.utf8))
            } catch {
                throw JobArgumentsError("\(kind) arguments do not decode as \(Self.self): \(JobArgumentsError.describe(error))")
            }
        }
        do {
            try arguments.validate()
        } catch {
            throw JobArgumentsError("\(kind): \(error.reason)")
        }
        // An empty object (every argument-less job, the hot path) has no field to be
        // unknown: skip the second parse and the re-encoding.
        // (jsonb prints an empty object as exactly `{}`.)
        if json == JobRequest.noArguments { return arguments }
        // A flat object's fields against the keys the value encodes, without encoding it.
        if flat?.fieldsAreKnown(to: arguments) == true { return arguments }
        // Usually every given field is one the value encodes again: found in one pass
        // over both texts, without parsing either into objects (`JSONFieldPaths`).
        let knownText = try? JobJSON.encoder.encode(arguments)
        if let knownText, JSONFieldPaths.allPresent(JSONFieldPaths(json.utf8), in: JSONFieldPaths(knownText)) {
            return arguments
        }
        let given = (try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])) ?? [:]
        let known = knownText
            .flatMap { try? JSONSerialization.jsonObject(with: $0, options: [.fragmentsAllowed]) } ?? [:]
        if known is [String: Any] && !(given is [String: Any]) {
            throw JobArgumentsError("\(kind) arguments do not decode as \(Self.self): they must be a JSON object")
        }
        if let unknown = JobArgumentsError.firstUnknownField(given: given, known: known) {
            throw JobArgumentsError("\(kind): unknown field \"\(unknown)\"")
        }
        return arguments
    }
}
