/// Repeated measurements of one figure: median, minimum and maximum.
struct Samples: Sendable {
    private(set) var values: [Double] = []

    mutating func append(_ value: Double) { values.append(value) }

    var isEmpty: Bool { values.isEmpty }
    var median: Double? { Percentile.linear(values, 50) }
    var minimum: Double? { values.min() }
    var maximum: Double? { values.max() }
}
