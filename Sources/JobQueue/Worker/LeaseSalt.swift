/// The random part of a lease id. A sequence alone cannot fence across an
/// asynchronous promotion: the WAL the standby never received may have advanced
/// `queue.lease_seq`, and the new primary then hands the same values out again — a
/// stale worker's old lease id would match the job's new claim. XORing every claim's
/// sequence value with 64 fresh random bits makes such a repeat a 2⁻⁶⁴ chance.
enum LeaseSalt {
    // The system generator, not JobJitter's seeded one: a seeded salt could repeat after a promotion.
    static func random() -> Int64 { Int64.random(in: .min ... .max) }
}
