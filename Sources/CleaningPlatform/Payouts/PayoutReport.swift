import Foundation

/// Finance's report: one CSV row per cleaner plus a totals row, amounts in fen.
/// The header names the refund rule: refunded orders count among the settled
/// orders and add what was paid minus what was refunded to gross.
public enum PayoutReport {
    public static let header = [
        "cleaner_id", "cleaner_name", "level", "settled_orders_incl_refunded", "gross_fen_paid_minus_refunded",
        "commission_fen", "bonus_fen", "penalty_fen", "carried_in_fen", "net_fen", "paid_fen", "carry_out_fen",
    ]

    public static func csv(_ lines: [PayoutLine]) -> String {
        var rows = [header.joined(separator: ",")]
        for line in lines {
            rows.append(
                [
                    "\(line.cleanerID)", quote(line.cleanerName), line.level, "\(line.orders)", "\(line.grossFen)",
                    "\(line.commissionFen)", "\(line.bonusFen)", "\(line.penaltyFen)", "\(line.carriedInFen)",
                    "\(line.netFen)", "\(line.payableFen)", "\(line.carryOutFen)",
                ].joined(separator: ","))
        }
        let totals = Totals(lines)
        rows.append(
            [
                "TOTAL", "", "", "\(totals.orders)", "\(totals.gross)", "\(totals.commission)", "\(totals.bonus)",
                "\(totals.penalty)", "\(totals.carriedIn)", "\(totals.net)", "\(totals.paid)", "\(totals.carryOut)",
            ].joined(separator: ","))
        return rows.joined(separator: "\n") + "\n"
    }

    public struct Totals: Sendable, Equatable {
        public var cleaners = 0, orders = 0
        public var gross: Int64 = 0, commission: Int64 = 0, bonus: Int64 = 0, penalty: Int64 = 0
        public var carriedIn: Int64 = 0, net: Int64 = 0, paid: Int64 = 0, carryOut: Int64 = 0

        public init(_ lines: [PayoutLine]) {
            for line in lines {
                cleaners += 1
                orders += line.orders
                gross += line.grossFen
                commission += line.commissionFen
                bonus += line.bonusFen
                penalty += line.penaltyFen
                carriedIn += line.carriedInFen
                net += line.netFen
                paid += line.payableFen
                carryOut += line.carryOutFen
            }
        }
    }

    /// Yuan with two decimals, for people (the CSV stays in fen).
    public static func yuan(_ fen: Int64) -> String {
        let sign = fen < 0 ? "-" : ""
        let absolute = fen.magnitude
        return "\(sign)¥\(absolute / 100).\(String(format: "%02d", Int(absolute % 100)))"
    }

    private static func quote(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
            ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
