/// Conversions the engine needs for SQL parameters and date arithmetic.
extension Duration {
    /// Whole milliseconds (for `interval '1 millisecond'` parameters).
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a Double (for arithmetic on delays).
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
