import PostgresClient

/// Why a cleaner's answer to an offer was refused, in words the cleaner's app can
/// show. Read from the SQLSTATEs of migration 0013's answer functions and from the
/// no-double-booking constraint.
public enum OfferRefusal: Error, Equatable, CustomStringConvertible {
    /// Someone else took the order first (or it is no longer waiting).
    case alreadyTaken(orderID: Int64?)
    /// The offer's time ran out.
    case expired(offerID: Int64)
    /// No open offer of that id for that cleaner (declined, withdrawn, someone else's).
    case notOpen(offerID: Int64)
    /// The cleaner already has an accepted order at an overlapping time.
    case overlapsAcceptedOrder(offerID: Int64)

    public var description: String {
        switch self {
        case .alreadyTaken(let order): "order \(order.map(String.init) ?? "") is already taken by another cleaner"
        case .expired(let offer): "offer \(offer) expired; wait for the next one"
        case .notOpen(let offer): "offer \(offer) is not open for this cleaner"
        case .overlapsAcceptedOrder(let offer):
            "offer \(offer) overlaps an order this cleaner already accepted; decline it or give the other order back"
        }
    }

    /// A short name of the case, for counts.
    public var kind: String {
        switch self {
        case .alreadyTaken: "already taken"
        case .expired: "expired"
        case .notOpen: "not open"
        case .overlapsAcceptedOrder: "overlapping"
        }
    }

    static let alreadyTakenState = "PD001"
    static let expiredState = "PD002"
    static let notOpenState = "PD003"
    static let exclusionViolationState = "23P01"
    static let noDoubleBookingConstraint = "orders_no_double_booking"

    /// The refusal a database error stands for, or nil when it is another error.
    static func from(_ error: any Error, offerID: Int64, orderID: Int64?) -> OfferRefusal? {
        guard let error = error as? PostgresError else { return nil }
        switch error.sqlState {
        case alreadyTakenState: return .alreadyTaken(orderID: orderID)
        case expiredState: return .expired(offerID: offerID)
        case notOpenState: return .notOpen(offerID: offerID)
        case exclusionViolationState where error.constraint == noDoubleBookingConstraint:
            return .overlapsAcceptedOrder(offerID: offerID)
        default: return nil
        }
    }
}
