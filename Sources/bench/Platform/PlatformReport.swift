import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue

/// The figures as a table, the checks, and the command that repeats the run.
struct PlatformReport {
    let options: PlatformOptions
    let machine: MachineNote
    let loadAfter: String
    let dataset: Dataset
    let loading: Dataset.Timings
    let expiry: CouponExpiryPhase.Result?
    let noop: QueueNoopPhase.Result?
    let dispatch: NotificationPhase.Result?
    let orders: DispatchPhase.Result?
    let recommendations: RecommendationPhase.Result?

    /// Issue 20's goals: dispatch at half the queue's own no-op rate, queueing at 10 000/s.
    static let dispatchGoal = 0.5
    static let queueingGoal = 10_000.0

    var verified: Bool {
        (expiry?.verified ?? true) && (noop?.verified ?? true) && (dispatch?.verified ?? true)
            && (orders?.verified ?? true) && (recommendations?.verified ?? true)
    }

    func render() -> String {
        var table = TextTable(["step", "items", "seconds", "per second", "bench cpu s", "server cpu s", "machine busy", "how"])
        table.append(row("load customers", options.customers, loading.customers, loading.customersCPU, "binary COPY, one connection"))
        if options.coupons > 0 {
            table.append(row("load coupons", options.coupons, loading.coupons, loading.couponsCPU, "binary COPY, all ended 1 h–60 d ago"))
        }
        table.append(["vacuum + analyse", "", Self.seconds(loading.vacuum), "", "", "", "", "then CHECKPOINT; likewise untimed before each later step"])
        if let expiry {
            var how = "1 coupon.expire job, 1 worker (maintenance=1)"
            if let job = expiry.job.jobSeconds { how += "; job itself \(String(format: "%.2f", job)) s" }
            table.append(row("expire coupons", expiry.coupons, expiry.job.wall, expiry.job.cpu, how))
        }
        if let noop {
            table.append(row(
                "no-op jobs", noop.jobs, noop.processing, noop.cpu,
                "the queue's own rate: the dispatch step's workers, a handler that does nothing"))
        }
        if let dispatch {
            let api = options.oneByOne ? "NotificationOutbox.queue(template:…), a call per message" : "batch NotificationOutbox.queue"
            table.append(row(
                "queue notifications", dispatch.notifications, dispatch.queueing, dispatch.queueingCPU,
                "\(api), \(options.queueBatch) per transaction, 1 connection"))
            var how = "\(options.workers) worker(s) × concurrency \(options.concurrency), instant provider"
            if let connections = options.connections { how += ", \(connections) connections each" }
            table.append(row("dispatch notifications", dispatch.notifications, dispatch.dispatch, dispatch.dispatchCPU, how))
        }
        if let orders {
            table.append(row(
                "load dispatch cleaners", orders.cleaners, orders.loading, nil,
                "COPY, then set-based hours, certifications, second areas; one city, \(Int(DispatchPhase.cityKm)) km"))
            table.append(row(
                "book orders", orders.bulkOrders, orders.booking, orders.bookingCPU,
                "OrderBooking.book (platform.book_order), \(DispatchPhase.bookingBatch) per transaction, no worker running"))
            var how = "\(options.workers) worker(s) × concurrency \(options.concurrency) on dispatch + notifications, "
            how += "cleaners answering on \(DispatchPhase.answerLoops) connections; \(String(format: "%.2f", orders.averageRound)) rounds per order"
            table.append(row("dispatch orders (matched)", orders.bulkMatched, orders.matching, orders.matchingCPU, how))
        }
        if let recommendations {
            table.append(row(
                "load history", recommendations.orders, recommendations.loading, nil,
                "\(recommendations.cleaners) cleaners in \(RecommendationPhase.cities) cities (COPY); orders (COPY), reviews"))
            var how = "1 cleaner.recommend job, 1 worker (maintenance=1), batches of \(RecommendCleaners.batchCustomers)"
            if let job = recommendations.job.jobSeconds { how += "; job itself \(String(format: "%.2f", job)) s" }
            table.append(row("recommend cleaners", recommendations.customers, recommendations.job.wall, recommendations.job.cpu, how))
        }

        var lines = ["bench platform — \(machine.cores) cores, \(machine.server) at \(machine.host)", ""]
        lines.append(table.render())
        lines.append("")
        if let dispatch {
            lines.append("ratios")
            lines.append(String(
                format: "  queueing: %.0f notifications/s = %.2f× the goal of %.0f/s", dispatch.queueRate,
                dispatch.queueRate / Self.queueingGoal, Self.queueingGoal))
            if let noop {
                lines.append(String(
                    format: "  dispatch: %.0f messages/s against %.0f no-op jobs/s in this run = %.2f× (goal %.1f×)",
                    dispatch.dispatchRate, noop.rate, dispatch.dispatchRate / noop.rate, Self.dispatchGoal))
            }
            lines.append("")
        }
        lines.append("checks")
        if let expiry {
            lines.append(check(
                expiry.verified,
                "coupons: job \(expiry.job.state); \(expiry.expired) of \(expiry.coupons) expired, \(expiry.notExpired) not, "
                    + "\(expiry.badExpiryTime) with a wrong expired_at; the job logged \(expiry.reportedByJob.map(String.init) ?? "?") expired"))
        }
        if let noop {
            lines.append(check(noop.verified, "no-op jobs: \(noop.completed) of \(noop.jobs) completed"))
        }
        if let dispatch {
            lines.append(check(
                dispatch.sent == dispatch.notifications && dispatch.found == dispatch.notifications,
                "notifications: \(dispatch.sent) of \(dispatch.notifications) sent"))
            lines.append(check(
                dispatch.providerCalls == dispatch.notifications && dispatch.providerDistinct == dispatch.notifications
                    && dispatch.providerRepeated == 0 && dispatch.providerMissing == 0 && dispatch.providerUnexpected == 0,
                "provider: \(dispatch.providerCalls) calls for \(dispatch.providerDistinct) distinct notification ids; "
                    + "\(dispatch.providerRepeated) sent more than once, \(dispatch.providerMissing) never, "
                    + "\(dispatch.providerUnexpected) not from this run"))
            let states = dispatch.jobStates.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", ")
            lines.append(check(
                dispatch.jobStates.count == 1 && dispatch.jobStates.first?.0 == .completed
                    && dispatch.jobStates.first?.1 == dispatch.expectedJobs,
                "dispatch jobs: \(states) of \(dispatch.expectedJobs); \(dispatch.jobsRetried) needed a second attempt, "
                    + "\(dispatch.fencedOutcomes) fenced outcomes, \(dispatch.flowControlDelayed) delayed and "
                    + "\(dispatch.suppressed) suppressed by flow control or validity"))
        }
        if let orders {
            lines.append(check(
                orders.assignedOnce == orders.assigned && orders.assigned + orders.escalated == orders.orders,
                "orders: \(orders.assigned) of \(orders.orders) assigned, \(orders.assignedOnce) with exactly one accepted "
                    + "offer, to the order's cleaner; \(orders.escalated) escalated (every round refused), none lost"))
            lines.append(check(
                orders.overlapping == 0,
                "no double booking: \(orders.overlapping) accepted orders overlap another of the same cleaner"))
            lines.append(check(
                orders.doubledLiveOffers == 0 && orders.openOffersLeft == 0,
                "offers: \(orders.doubledLiveOffers) (order, cleaner) pairs with more than one live offer, "
                    + "\(orders.openOffersLeft) offers still open"))
            let states = orders.roundJobStates.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", ")
            let answers = orders.answers.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            lines.append(check(
                orders.roundJobStates.allSatisfy { $0.0 == .completed || $0.0 == .scheduled },
                "dispatch rounds: \(states); answers: \(answers); \(orders.notificationsPending) messages left unsent"))
            lines.append(check(
                orders.toFirstOffer.count == orders.latencySamples && orders.queueStart.count == orders.latencySamples,
                "latency with idle workers, \(orders.latencySamples) samples: booking → first offer "
                    + Self.percentiles(orders.toFirstOffer) + "; a no-op job's enqueue → start on the same workers "
                    + Self.percentiles(orders.queueStart)))
        }
        if let recommendations {
            lines.append(check(
                recommendations.job.state == .completed && recommendations.customersWithList > 0
                    && recommendations.longestList <= RecommendCleaners.listLength,
                "recommendations: job \(recommendations.job.state.rawValue); \(recommendations.customersWithList) of "
                    + "\(recommendations.customers) customers with a list, \(recommendations.rows) rows, the longest "
                    + "\(recommendations.longestList)"))
            lines.append(check(
                recommendations.outsideArea == 0 && recommendations.ratedTwoOrLess == 0,
                "recommended: \(recommendations.outsideArea) outside the cleaner's areas, "
                    + "\(recommendations.ratedTwoOrLess) rated ≤ 2 by the customer"))
            lines.append(check(
                recommendations.sampleDiffering == 0,
                "without the grid prefilter (every cleaner's distance): \(recommendations.sampleDiffering) of "
                    + "\(recommendations.sampleCompared) sampled customers' lists differ"))
        }
        lines.append("")
        lines.append(
            "bench cpu: this process (its workers included); server cpu: the postmaster and all its children "
                + "(backends, WAL writer, checkpointer, autovacuum); machine busy: all \(machine.cores) cores, other users included")
        lines.append("load average \(machine.loadBefore) at start, \(loadAfter) at end (shared machine)")
        lines.append("reproduce: \(options.reproduction)")
        return lines.joined(separator: "\n")
    }

    private func row(_ step: String, _ items: Int, _ duration: Duration, _ cpu: CPUSpent?, _ how: String) -> [String] {
        [
            step, "\(items)", Self.seconds(duration), Self.rate(Double(items) / duration.seconds),
            cpu.map { String(format: "%.2f", $0.client) } ?? "",
            cpu?.server.map { String(format: "%.2f", $0) } ?? "-",
            cpu?.machineBusyFraction.map { String(format: "%.0f%%", $0 * 100) } ?? "-", how,
        ]
    }

    private func check(_ passed: Bool, _ text: String) -> String {
        (passed ? "  ok    " : "  FAIL  ") + text
    }

    /// "p50 x ms, p99 y ms" of milliseconds.
    static func percentiles(_ milliseconds: [Double]) -> String {
        let p50 = Percentile.linear(milliseconds, 50).map { String(format: "%.1f", $0) } ?? "-"
        let p99 = Percentile.linear(milliseconds, 99).map { String(format: "%.1f", $0) } ?? "-"
        return "p50 \(p50) ms, p99 \(p99) ms"
    }

    static func seconds(_ duration: Duration) -> String { String(format: "%.2f", duration.seconds) }

    static func rate(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        return value >= 100 ? "\(Int(value.rounded()))" : String(format: "%.1f", value)
    }
}
