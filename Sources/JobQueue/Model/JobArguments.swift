/// The typed arguments of one kind of job. The kind names the handler; the value
/// is stored as JSON in the job row.
///
///     struct SendReceipt: JobArguments {
///         static let kind = "send_receipt"
///         var orderID: Int64
///     }
public protocol JobArguments: Codable, Sendable {
    static var kind: String { get }
}
