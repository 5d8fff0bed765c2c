import PostgresClient

/// One column of a bulk insert's parameters: the requests' values as an array, or —
/// when every request has the same value — that value once. The kind, queue, priority,
/// attempts and unique scope of nearly every batch are shared, and so are the run-at,
/// tags, deadline or batch of many (a campaign's batch, a backfill), so the statement
/// gets one value where it would get an array of a thousand copies: nothing to build,
/// encode, send, receive or take apart per row (docs/performance-queue.md, "Bulk
/// enqueue"). The statement takes a row's value as `JobEnqueueStatements.rowValue`.
struct BatchColumn<Value: PostgresArrayElement & Equatable> {
    /// The requests' values in order, or nil when they all share `shared`.
    let each: [Value?]?
    /// The value every request has (nil when it is nil for all, or when they differ).
    let shared: Value?

    /// `value` of each of `elements` (not empty), in order.
    init<Element>(_ elements: [Element], _ value: (Element) -> Value?) {
        let first = value(elements[0])
        guard let difference = elements.indices.dropFirst().first(where: { value(elements[$0]) != first }) else {
            (each, shared) = (nil, first)
            return
        }
        // The values before the first difference are all `first`.
        var values = [Value?](repeating: first, count: difference)
        values.reserveCapacity(elements.count)
        for index in difference..<elements.count { values.append(value(elements[index])) }
        (each, shared) = (values, nil)
    }

    /// The column's two statement parameters, array then shared value.
    var parameters: [any PostgresEncodable] { [each, shared] }
}
