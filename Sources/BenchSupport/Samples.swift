/// Repeated measurements of one figure: median, minimum and maximum.
public struct Samples: Sendable {
    public private(set) var values: [Double] = []

    public init() {}

    public mutating func append(_ value: Double) { values.append(value) }

    public var isEmpty: Bool { values.isEmpty }
    public var median: Double? { Percentile.linear(values, 50) }
    public var minimum: Double? { values.min() }
    public var maximum: Double? { values.max() }
}
