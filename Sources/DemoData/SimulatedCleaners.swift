import SeededRandom

/// How the demo's cleaners answer dispatch offers: each (order, cleaner) pair
/// accepts, declines or ignores, decided by the seed alone, so a demo run with
/// the same seed makes the same choices whatever order the offers arrive in.
public struct SimulatedCleaners: Sendable {
    public enum Answer: String, Sendable {
        case accept, decline, ignore
    }

    public var seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
    }

    /// 60 % accept, 20 % decline, 20 % let the offer expire.
    public func answer(orderID: Int64, cleanerID: Int64) -> Answer {
        var random = SeededRandom(seed: seed ^ (UInt64(bitPattern: orderID) &* 0x9E37_79B9_7F4A_7C15)
            ^ (UInt64(bitPattern: cleanerID) &* 0xC2B2_AE3D_27D4_EB4F))
        let draw = random.next() % 10
        return draw < 6 ? .accept : draw < 8 ? .decline : .ignore
    }
}
