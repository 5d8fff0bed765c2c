public import Foundation
public import JobQueue

/// The platform's job handlers and periodic jobs.
public enum PlatformJobs {
    /// The argument types of every kind the platform handles, so a job given as
    /// kind and JSON (`jobsctl enqueue`) is checked as its handler would check it.
    public static let catalogue = JobKindCatalogue([
        OrderReminder.self, DispatchNotification.self, DispatchNotificationBatch.self, ExpireCoupons.self,
        RemindExpiringCoupons.self, ExpirePoints.self, SettleCleanerPayout.self, FinishPayoutRun.self,
        ProcessWithdrawal.self, GradeExamSubmission.self, RegradeExam.self, RecalculateTiers.self, UpgradeTier.self, DispatchOrder.self,
        ExpireDispatchOffer.self, RollUpStatistics.self, RecommendCleaners.self,
        ScoreServiceQuality.self, ReinstateCleaners.self, EscalateComplaint.self, SendCampaignBatch.self,
    ])

    /// Every kind the platform handles.
    public static var kinds: [String] { catalogue.kinds }

    /// Queues the platform's workers should work, with a sensible concurrency each.
    public static let queues: [String: Int] = [
        JobRequest.defaultQueue: 4, OrderReminder.queue: 8, NotificationOutbox.dispatchQueue: 16, maintenanceQueue: 2,
        PayoutRun.queue: 4, OrderDispatch.queue: 8, EscalateComplaint.queue: 2, CampaignDesk.batchQueue: 2,
    ]

    public static let maintenanceQueue = "maintenance"

    public static func handlers(_ services: PlatformServices) -> JobHandlerRegistry {
        var registry = JobHandlerRegistry()
        registry.register(OrderReminder.self) { try await $0.run($1, services: services) }
        registry.register(
            DispatchNotification.self,
            options: JobKindOptions(timeout: .seconds(30), retryPolicy: RetryPolicy(baseDelay: .seconds(5)))
        ) { try await $0.run($1, services: services) }
        registry.register(
            DispatchNotificationBatch.self,
            options: JobKindOptions(timeout: .seconds(300), retryPolicy: RetryPolicy(baseDelay: .seconds(5)))
        ) { try await $0.run($1, services: services) }
        registry.register(ExpireCoupons.self, options: JobKindOptions(timeout: .seconds(600))) {
            try await $0.run($1, services: services)
        }
        registry.register(RemindExpiringCoupons.self, options: JobKindOptions(timeout: .seconds(600))) {
            try await $0.run($1, services: services)
        }
        registry.register(ExpirePoints.self, options: JobKindOptions(timeout: .seconds(600))) {
            try await $0.run($1, services: services)
        }
        registry.register(SettleCleanerPayout.self, options: JobKindOptions(timeout: .seconds(120))) {
            try await $0.run($1, services: services, payouts: services.payouts)
        }
        registry.register(FinishPayoutRun.self) { try await $0.run($1, services: services) }
        registry.register(GradeExamSubmission.self) { try await $0.run($1, services: services) }
        registry.register(UpgradeTier.self) { try await $0.run($1, services: services) }
        registry.register(RecalculateTiers.self, options: JobKindOptions(timeout: .seconds(1800))) {
            try await $0.run($1, services: services)
        }
        registry.register(RegradeExam.self, options: JobKindOptions(timeout: .seconds(600))) {
            try await $0.run($1, services: services)
        }
        registry.register(ProcessWithdrawal.self, options: JobKindOptions(timeout: .seconds(120))) {
            try await $0.run($1, services: services, payouts: services.payouts)
        }
        registry.register(DispatchOrder.self, options: JobKindOptions(timeout: .seconds(60))) {
            try await $0.run($1, services: services)
        }
        registry.register(ExpireDispatchOffer.self, options: JobKindOptions(timeout: .seconds(60))) {
            try await $0.run($1, services: services)
        }
        registry.register(RollUpStatistics.self, options: JobKindOptions(timeout: .seconds(900))) {
            try await $0.run($1, services: services)
        }
        registry.register(RecommendCleaners.self, options: JobKindOptions(timeout: .seconds(3600))) {
            try await $0.run($1, services: services)
        }
        registry.register(ScoreServiceQuality.self, options: JobKindOptions(timeout: .seconds(600))) {
            try await $0.run($1, services: services)
        }
        registry.register(ReinstateCleaners.self, options: JobKindOptions(timeout: .seconds(120))) {
            try await $0.run($1, services: services)
        }
        registry.register(EscalateComplaint.self) { try await $0.run($1, services: services) }
        registry.register(SendCampaignBatch.self, options: JobKindOptions(timeout: .seconds(120))) {
            try await $0.run($1, services: services)
        }
        return registry
    }

    /// Nightly and daily batch work, in the business time zone.
    public static func periodicJobs(timeZone: TimeZone) throws -> [PeriodicJob] {
        [
            PeriodicJob(
                name: "coupon-expiry", schedule: try CronSchedule("5 0 * * *", timeZone: timeZone),
                request: JobRequest(kind: ExpireCoupons.kind, queue: maintenanceQueue)),
            PeriodicJob(
                name: "coupon-expiry-reminder", schedule: try CronSchedule("0 10 * * *", timeZone: timeZone),
                request: JobRequest(kind: RemindExpiringCoupons.kind, queue: maintenanceQueue)),
            PeriodicJob(
                name: "tier-recalculation", schedule: try CronSchedule("0 2 * * *", timeZone: timeZone),
                request: JobRequest(kind: RecalculateTiers.kind, queue: maintenanceQueue)),
            PeriodicJob(
                name: "points-expiry", schedule: try CronSchedule("15 0 * * *", timeZone: timeZone),
                request: JobRequest(kind: ExpirePoints.kind, queue: maintenanceQueue)),
            PeriodicJob(
                name: "statistics-rollup", schedule: try CronSchedule("*/15 * * * *", timeZone: timeZone),
                request: JobRequest(kind: RollUpStatistics.kind, queue: maintenanceQueue)),
            PeriodicJob(
                name: "cleaner-recommendations", schedule: try CronSchedule("30 3 * * *", timeZone: timeZone),
                request: JobRequest(kind: RecommendCleaners.kind, queue: maintenanceQueue)),
            // Monday 03:00: last week's scores (its rewards and fines go into this week's payout run).
            PeriodicJob(
                name: "service-quality", schedule: try CronSchedule("0 3 * * 1", timeZone: timeZone),
                request: JobRequest(kind: ScoreServiceQuality.kind, queue: maintenanceQueue)),
            PeriodicJob(
                name: "suspension-reinstatement", schedule: try CronSchedule("30 * * * *", timeZone: timeZone),
                request: JobRequest(kind: ReinstateCleaners.kind, queue: maintenanceQueue)),
        ]
    }
}
