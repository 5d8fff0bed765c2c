import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `jobsctl complaints file|acknowledge|investigate|resolve|close|list|report`
struct ComplaintsCommand: CommandGroup {
    static let name = "complaints"
    static let summary = "complaints and their SLA: file, move through the steps, list by SLA state, report"
    static let help = """
        Usage: jobsctl complaints COMMAND [OPTIONS]

        A complaint goes filed → acknowledged → investigating → upheld | rejected → closed.
        Its deadlines (acknowledge, resolve) depend on its severity (platform.complaint_sla_rules)
        and count business hours in the business time zone (both in platform.business_hours;
        keep its zone equal to BUSINESS_TIME_ZONE, default Asia/Shanghai, which times are shown in). A missed deadline is escalated to the
        on-duty operator, then the supervisor, by jobs on queue "\(EscalateComplaint.queue)".
        """
    static let subcommands: [any CommandDescription.Type] = [
        ComplaintsFileCommand.self, ComplaintsStepCommand<Acknowledge>.self, ComplaintsStepCommand<Investigate>.self,
        ComplaintsResolveCommand.self, ComplaintsStepCommand<Close>.self, ComplaintsListCommand.self,
        ComplaintsReportCommand.self,
    ]

    static let timeHelp = """
          --at TIME            when it happened (default: now): ISO 8601 with a zone
                               (2026-11-23T10:00:00+08:00) or a time ago like -10m
        """

    static func calendar() throws -> BusinessCalendar {
        do {
            return BusinessCalendar(timeZone: try BusinessTimeZone.fromEnvironment())
        } catch {
            throw CommandError.failed("\(error)")
        }
    }

    static func complaintID(_ arguments: inout Arguments) throws -> Int64 {
        try ExamsCommand.id(
            try arguments.required("COMPLAINT (a complaint id)"), what: "COMPLAINT", command: arguments.commandName)
    }

    /// Runs a desk action, turning its refusal into an error that says what to do. An
    /// action that counts days, weeks or business hours in `zone` first checks that the
    /// database counts in it too.
    static func act<T>(
        _ database: DatabaseOptions, countingIn zone: TimeZone? = nil, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        let connection = try zone.map { try BusinessZoneConnection.connect(database.configuration, countingIn: $0) }
            ?? PostgresConnection.connect(database.configuration)
        do {
            return try body(connection)
        } catch let refusal as ComplaintDesk.Refusal {
            throw CommandError.failed(refusal.description)
        }
    }
}

struct ComplaintsFileCommand: Command {
    static let name = "file"
    static let summary = "file a complaint about an order (sets its deadlines, schedules escalations)"
    static let options: [CommandOption] = [
        .value("--reason", "TEXT"), .value("--severity", "SEVERITY", default: "normal"), .value("--at", "TIME", default: "now"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl complaints file ORDER --reason TEXT [--severity urgent|normal|minor] [--at TIME]

        Files a complaint about order ORDER (it must have a cleaner), sets its acknowledge
        and resolve deadlines from the severity's rules in business hours, and schedules
        the escalation jobs; prints its id and the schedule.

        Arguments:
          ORDER                the order's id, e.g. 42

        Options:
          --reason TEXT        what went wrong (not blank), e.g. 厨房没有打扫
          --severity SEVERITY  urgent, normal or minor (default normal)
        \(ComplaintsCommand.timeHelp)
        \(DatabaseOptions.help)
        """

    let orderID: Int64
    let reason: String
    let severity: ComplaintSeverity
    let at: Date?
    let calendar: BusinessCalendar
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        orderID = try ExamsCommand.id(try arguments.required("ORDER (an order id)"), what: "ORDER", command: command)
        guard let reason = try arguments.option("--reason") else {
            throw CommandError.usage("--reason is required: say what went wrong", command: command)
        }
        guard !UnicodeText.isBlank(reason) else {
            throw CommandError.usage("--reason is blank: say what went wrong", command: command)
        }
        self.reason = reason
        let severityText = try arguments.option("--severity") ?? ComplaintSeverity.normal.rawValue
        guard let severity = ComplaintSeverity(rawValue: severityText) else {
            let known = ComplaintSeverity.allCases.map(\.rawValue).joined(separator: ", ")
            throw CommandError.usage("--severity \"\(severityText)\" is not one of \(known)", command: command)
        }
        self.severity = severity
        at = try arguments.time("--at", delaySign: "-")
        calendar = try ComplaintsCommand.calendar()
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let (orderID, reason, severity, now) = (orderID, reason, severity, at ?? Date())
        let filed = try ComplaintsCommand.act(database) { connection in
            try ComplaintDesk.file(orderID: orderID, reason: reason, severity: severity, now: now, on: connection)
        }
        print("complaint \(filed.id) filed (\(severity.rawValue)); escalation schedule:")
        for (deadline, level, at) in filed.escalations {
            print("  \(deadline.rawValue) missed → \(level.rawValue) at \(ZonedTimeText.format(at, in: calendar.timeZone))")
        }
    }
}

/// One step of a complaint that needs nothing but the complaint and a time.
protocol ComplaintStep: Sendable {
    static var name: String { get }
    static var status: ComplaintStatus { get }
    static var summary: String { get }
}

enum Acknowledge: ComplaintStep {
    static let name = "acknowledge"
    static let status = ComplaintStatus.acknowledged
    static let summary = "acknowledge a filed complaint (meets the acknowledge deadline)"
}

enum Investigate: ComplaintStep {
    static let name = "investigate"
    static let status = ComplaintStatus.investigating
    static let summary = "start investigating an acknowledged complaint"
}

enum Close: ComplaintStep {
    static let name = "close"
    static let status = ComplaintStatus.closed
    static let summary = "close an upheld or rejected complaint (its outcome is kept)"
}

struct ComplaintsStepCommand<Step: ComplaintStep>: Command {
    static var name: String { Step.name }
    static var summary: String { Step.summary }
    static var options: [CommandOption] { [.value("--at", "TIME", default: "now")] + DatabaseOptions.options }
    static var help: String {
        """
        Usage: jobsctl complaints \(Step.name) COMPLAINT [--at TIME]

        Moves complaint COMPLAINT to \(Step.status.rawValue) at TIME. Refused, with the step it needs
        first, when the complaint is not at the step before.

        Arguments:
          COMPLAINT            the complaint's id, e.g. 7

        Options:
        \(ComplaintsCommand.timeHelp)
        \(DatabaseOptions.help)
        """
    }

    let complaintID: Int64
    let at: Date?
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        complaintID = try ComplaintsCommand.complaintID(&arguments)
        at = try arguments.time("--at", delaySign: "-")
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let (id, now) = (complaintID, at ?? Date())
        try ComplaintsCommand.act(database) { try ComplaintDesk.move(id, to: Step.status, now: now, on: $0) }
        print("complaint \(id) is \(Step.status.rawValue)")
    }
}

struct ComplaintsResolveCommand: Command {
    static let name = "resolve"
    static let summary = "resolve a complaint under investigation: upheld (counts against the cleaner) or rejected"
    static let options: [CommandOption] = [.value("--outcome", "OUTCOME"), .value("--at", "TIME", default: "now")]
        + DatabaseOptions.options
    static let help = """
        Usage: jobsctl complaints resolve COMPLAINT --outcome upheld|rejected [--at TIME]

        Resolves complaint COMPLAINT (it must be under investigation) at TIME, meeting the
        resolve deadline if in time. An upheld complaint is a penalty in the payout run of
        the week it was upheld in and counts in the cleaner's quality score.

        Arguments:
          COMPLAINT            the complaint's id, e.g. 7

        Options:
          --outcome OUTCOME    upheld or rejected, e.g. upheld
        \(ComplaintsCommand.timeHelp)
        \(DatabaseOptions.help)
        """

    let complaintID: Int64
    let outcome: ComplaintStatus
    let at: Date?
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        complaintID = try ComplaintsCommand.complaintID(&arguments)
        guard let text = try arguments.option("--outcome") else {
            throw CommandError.usage("--outcome is required: upheld or rejected", command: command)
        }
        guard let outcome = ComplaintStatus(rawValue: text), [.upheld, .rejected].contains(outcome) else {
            throw CommandError.usage("--outcome \"\(text)\" is not upheld or rejected", command: command)
        }
        self.outcome = outcome
        at = try arguments.time("--at", delaySign: "-")
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let (id, outcome, now) = (complaintID, outcome, at ?? Date())
        try ComplaintsCommand.act(database) { try ComplaintDesk.move(id, to: outcome, now: now, on: $0) }
        print("complaint \(id) is \(outcome.rawValue)")
    }
}

struct ComplaintsListCommand: Command {
    static let name = "list"
    static let summary = "open complaints with their deadlines and SLA state, oldest first"
    static let options: [CommandOption] = [
        .value("--sla", "STATE", default: "all"), .value("--limit", "N", default: "100"), OutputFormat.option,
    ] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl complaints list [--sla within|breached|untracked|all] [--limit N] [--json]

        Open complaints (not yet upheld or rejected), oldest first, with their deadlines
        shown in the business time zone, their SLA state and how many escalations went out.
        SLA states: within (no deadline missed), breached (acknowledged late, or a deadline
        passed), untracked (filed before deadlines existed).

        Options:
          --sla STATE          only complaints in this SLA state (default all)
          --limit N            at most N complaints (1–100000, default 100)
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let sla: ComplaintReport.SLAState?
    let limit: Int
    let format: OutputFormat
    let calendar: BusinessCalendar
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        let text = try arguments.option("--sla") ?? "all"
        if text == "all" {
            sla = nil
        } else if let state = ComplaintReport.SLAState(rawValue: text) {
            sla = state
        } else {
            let known = ComplaintReport.SLAState.allCases.map(\.rawValue).joined(separator: ", ")
            throw CommandError.usage("--sla \"\(text)\" is not one of \(known), all", command: command)
        }
        limit = try arguments.integer("--limit", in: 1...100_000) ?? 100
        format = OutputFormat(arguments: &arguments)
        calendar = try ComplaintsCommand.calendar()
        database = try DatabaseOptions(arguments: &arguments)
    }

    struct Row: Encodable {
        var id: Int64
        var orderID: Int64
        var severity: String
        var status: String
        var filedAt: Date
        var acknowledgeDueAt: Date?
        var resolveDueAt: Date?
        var sla: String
        var escalations: Int
    }

    func run() async throws {
        let (sla, limit, now) = (sla, limit, Date())
        let complaints = try ComplaintsCommand.act(database) {
            try ComplaintReport.open(sla: sla, now: now, limit: limit, on: $0)
        }
        if format == .json {
            print(try OutputFormat.json(complaints.map {
                Row(id: $0.id, orderID: $0.orderID, severity: $0.severity, status: $0.status, filedAt: $0.filedAt,
                    acknowledgeDueAt: $0.acknowledgeDueAt, resolveDueAt: $0.resolveDueAt, sla: $0.sla.rawValue,
                    escalations: $0.escalations)
            }))
            return
        }
        guard !complaints.isEmpty else {
            print("no open complaints\(sla.map { " in SLA state \($0.rawValue)" } ?? "")")
            return
        }
        let zone = calendar.timeZone
        let shown = { (date: Date?) in date.map { ZonedTimeText.format($0, in: zone) } ?? "-" }
        var table = TextTable(["id", "order", "severity", "status", "filed", "acknowledge by", "resolve by", "sla", "escalations"])
        for complaint in complaints {
            table.append([
                "\(complaint.id)", "\(complaint.orderID)", complaint.severity, complaint.status, shown(complaint.filedAt),
                shown(complaint.acknowledgeDueAt), shown(complaint.resolveDueAt), complaint.sla.rawValue,
                "\(complaint.escalations)",
            ])
        }
        print(table.render())
    }
}

struct ComplaintsReportCommand: Command {
    static let name = "report"
    static let summary = "open complaints by age and missed deadlines per week"
    static let options: [CommandOption] = [.value("--weeks", "N", default: "8"), OutputFormat.option] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl complaints report [--weeks N] [--json]

        Open complaints by how long ago they were filed (and how many of them missed a
        deadline), then missed deadlines per ISO week of the business time zone over
        the last N weeks, with the escalations they caused.

        Options:
          --weeks N            weeks of missed deadlines to show (1–520, default 8)
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let weeks: Int
    let format: OutputFormat
    let calendar: BusinessCalendar
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        weeks = try arguments.integer("--weeks", in: 1...520) ?? 8
        format = OutputFormat(arguments: &arguments)
        calendar = try ComplaintsCommand.calendar()
        database = try DatabaseOptions(arguments: &arguments)
    }

    struct Report: Encodable {
        var openByAge: [Age]
        var breachesPerWeek: [Week]

        struct Age: Encodable {
            var age: String
            var open: Int
            var breached: Int
        }

        struct Week: Encodable {
            var week: String
            var acknowledgeMissed: Int
            var resolveMissed: Int
            var escalations: Int
        }
    }

    func run() async throws {
        let now = Date()
        let since = calendar.adding(days: -7 * weeks, to: now)
        let zone = calendar.timeZone
        let (ages, weekly) = try ComplaintsCommand.act(database, countingIn: zone) { connection in
            (try ComplaintReport.openByAge(now: now, on: connection),
             try ComplaintReport.breachesPerWeek(since: since, now: now, timeZone: zone, on: connection))
        }
        let report = Report(
            openByAge: ages.map { Report.Age(age: $0.age, open: $0.open, breached: $0.breached) },
            breachesPerWeek: weekly.map {
                Report.Week(week: $0.week, acknowledgeMissed: $0.acknowledge, resolveMissed: $0.resolve, escalations: $0.escalations)
            })
        if format == .json {
            print(try OutputFormat.json(report))
            return
        }
        var ageTable = TextTable(["open for", "open", "breached"])
        for age in report.openByAge { ageTable.append([age.age, "\(age.open)", "\(age.breached)"]) }
        print("Open complaints by age (as of \(ZonedTimeText.format(now, in: zone))):")
        print(ageTable.render())
        print("\nMissed deadlines per week (\(zone.identifier)), last \(weeks) weeks:")
        if report.breachesPerWeek.isEmpty {
            print("none")
        } else {
            var weekTable = TextTable(["week", "acknowledge missed", "resolve missed", "escalations"])
            for week in report.breachesPerWeek {
                weekTable.append([week.week, "\(week.acknowledgeMissed)", "\(week.resolveMissed)", "\(week.escalations)"])
            }
            print(weekTable.render())
        }
    }
}
