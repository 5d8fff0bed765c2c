/// Durations as the numbers the reports print.
extension Duration {
    /// Milliseconds as a Double.
    public var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }

    public var microseconds: Double { milliseconds * 1000 }

    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
