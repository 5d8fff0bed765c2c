import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `jobsctl campaigns create|launch|pause|cancel|report|list`
struct CampaignsCommand: CommandGroup {
    static let name = "campaigns"
    static let summary = "marketing campaigns: create, launch (or resume), pause, cancel, report, list"
    static let help = """
        Usage: jobsctl campaigns COMMAND [OPTIONS]

        A campaign sends a marketing template to a segment of customers in batches (one job
        per batch on queue "campaigns") through the notification outbox, within its send
        window. Marketing rules apply: opted-out customers and customers over the frequency
        cap (platform.marketing_rules) are suppressed, batches wait for marketing hours
        (08:00–21:00 in the business time zone BUSINESS_TIME_ZONE, default Asia/Shanghai),
        and each message waits again for its recipient's own hours when dispatched.
        """
    static let subcommands: [any CommandDescription.Type] = [
        CampaignsCreateCommand.self, CampaignsActionCommand<LaunchCampaign>.self,
        CampaignsActionCommand<PauseCampaign>.self, CampaignsActionCommand<CancelCampaign>.self,
        CampaignsReportCommand.self, CampaignsListCommand.self,
    ]

    static func calendar() throws -> BusinessCalendar {
        do {
            return BusinessCalendar(timeZone: try BusinessTimeZone.fromEnvironment())
        } catch {
            throw CommandError.failed("\(error)")
        }
    }

    static func campaignID(_ arguments: inout Arguments) throws -> Int64 {
        try ExamsCommand.id(
            try arguments.required("CAMPAIGN (a campaign id)"), what: "CAMPAIGN", command: arguments.commandName)
    }

    /// Runs a desk action; a refusal becomes an error that says what to do. An action
    /// that counts days, weeks or business hours in `zone` first checks that the
    /// database counts in it too.
    static func act<T>(
        _ database: DatabaseOptions, countingIn zone: TimeZone? = nil, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        let connection = try zone.map { try BusinessZoneConnection.connect(database.configuration, countingIn: $0) }
            ?? PostgresConnection.connect(database.configuration)
        do {
            return try body(connection)
        } catch let refusal as CampaignDesk.Refusal {
            throw CommandError.failed(refusal.description)
        }
    }
}

struct CampaignsCreateCommand: Command {
    static let name = "create"
    static let summary = "write a campaign (checked: segment, template and its parameters, coupon, window); prints its id"
    static let options: [CommandOption] = [
        .value("--name", "TEXT"), .value("--template", "CODE"), .value("--segment", "JSON", default: "{} (every customer)"),
        .value("--param", "NAME=VALUE"), .value("--coupon-template", "ID"), .value("--starts", "TIME", default: "now"),
        .value("--ends", "TIME"), .value("--batch-size", "N", default: "1000"), .value("--attribution-days", "N", default: "7"),
        .flag("--once"), OutputFormat.option,
    ] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl campaigns create --name TEXT --template CODE --ends TIME [--segment JSON]
                                        [--param NAME=VALUE]... [--coupon-template ID] [--starts TIME]
                                        [--batch-size N] [--attribution-days N] [--once] [--json]

        Writes a campaign as a draft (nothing is sent until `campaigns launch`) and prints its
        id. Refused with exit status 64, before anything is written, when the segment names an
        unknown field or a value of the wrong type, the template is not a marketing template
        or needs a parameter not given, the coupon template does not exist, or the send
        window is over.

        Options:
          --name TEXT            what the campaign is called, e.g. 老客回流
          --template CODE        a marketing template, e.g. campaign_offer
          --segment JSON         criteria, all of which must hold (default: every customer):
                                 {"tiers": ["黄金", "铂金"]}          member tiers
                                 {"cities": ["上海"]}                 had an order served there
                                 {"last_order_older_than_days": 30}  ordered, but not in 30 days
                                 {"has_unused_coupon": false}        holds an active coupon (or not)
          --param NAME=VALUE     a template parameter for every recipient (repeatable), e.g.
                                 offer=本周深度保洁8折; `name` (the customer's) and `coupon`
                                 (the granted coupon's) are filled in per recipient
          --coupon-template ID   grant each recipient one coupon of this template
          --starts TIME          send window start (default now): ISO 8601 with a zone
                                 (2026-12-06T10:00:00+08:00) or a delay like +1h
          --ends TIME            send window end, the same forms, e.g. +1d
          --batch-size N         recipients per send job (1–100000, default 1000)
          --attribution-days N   the report counts orders placed within N days of a
                                 recipient's message (1–365, default 7)
          --once                 when a campaign of this name exists, create nothing and
                                 print its id (a script run twice creates it once)
        \(OutputFormat.help) ({"id": …, "created": true|false})
        \(DatabaseOptions.help)
        """

    let campaign: CampaignDesk.NewCampaign
    let once: Bool
    let format: OutputFormat
    let now: Date
    let calendar: BusinessCalendar
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        once = arguments.flag("--once")
        format = OutputFormat(arguments: &arguments)
        let now = Date()
        self.now = now
        guard let name = try arguments.option("--name") else {
            throw CommandError.usage("--name is required: name the campaign", command: command)
        }
        guard let template = try arguments.option("--template") else {
            throw CommandError.usage("--template is required: a marketing template such as campaign_offer", command: command)
        }
        let segment: CampaignSegment
        do {
            segment = try (try arguments.option("--segment")).map { try CampaignSegment(json: $0) } ?? CampaignSegment()
        } catch let problem as CampaignSegment.Problem {
            throw CommandError.usage("--segment: \(problem)", command: command)
        }
        var parameters: [String: String] = [:]
        for pair in try arguments.options("--param") {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CommandError.usage("--param \"\(pair)\" is not NAME=VALUE, e.g. offer=满200减30", command: command)
            }
            parameters[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        let coupon = try arguments.integer("--coupon-template", in: 1...Int.max).map(Int64.init)
        let starts = try arguments.time("--starts", delaySign: "+", now: now) ?? now
        guard let ends = try arguments.time("--ends", delaySign: "+", now: now) else {
            throw CommandError.usage("--ends is required: when the send window closes, e.g. +1d", command: command)
        }
        campaign = CampaignDesk.NewCampaign(
            name: name, segment: segment, templateCode: template, parameters: parameters, couponTemplateID: coupon,
            startsAt: starts, endsAt: ends, batchSize: try arguments.integer("--batch-size", in: 1...100_000) ?? 1000,
            attributionDays: try arguments.integer("--attribution-days", in: 1...365) ?? 7)
        calendar = try CampaignsCommand.calendar()
        database = try DatabaseOptions(arguments: &arguments)
    }

    struct Created: Encodable {
        var id: Int64
        var created: Bool
    }

    func run() async throws {
        let (campaign, now, zone) = (campaign, now, calendar.timeZone)
        let connection = try BusinessZoneConnection.connect(database.configuration, countingIn: zone)
        if once, let existing = try CampaignDesk.id(named: campaign.name, on: connection) {
            print(format == .json
                ? try OutputFormat.json(Created(id: existing, created: false))
                : "campaign \(existing) is named \"\(campaign.name)\" already; nothing created")
            return
        }
        let id: Int64
        do {
            id = try CampaignDesk.create(campaign, now: now, timeZone: zone, on: connection)
        } catch let refusal as CampaignDesk.Refusal {
            throw CommandError.usage(refusal.description, command: "jobsctl campaigns create")
        }
        if format == .json {
            print(try OutputFormat.json(Created(id: id, created: true)))
            return
        }
        print("campaign \(id) created (draft); send window \(ZonedTimeText.format(campaign.startsAt, in: zone)) – "
            + "\(ZonedTimeText.format(campaign.endsAt, in: zone)); launch it with `jobsctl campaigns launch \(id)`")
    }
}

/// A campaign action that needs nothing but the campaign.
protocol CampaignAction: Sendable {
    static var name: String { get }
    static var summary: String { get }
    static var detail: String { get }
    static func run(_ id: Int64, now: Date, calendar: BusinessCalendar, on connection: PostgresConnection) throws -> String
}

enum LaunchCampaign: CampaignAction {
    static let name = "launch"
    static let summary = "target a draft's segment and enqueue its batches, or resume a paused campaign"
    static let detail = """
        A draft: its segment is evaluated now, the customers are written in batches and one
        send job per batch is enqueued. A paused campaign: the send jobs of its batches not
        sent yet are enqueued again. Refused once the send window is over.
        """
    static func run(_ id: Int64, now: Date, calendar: BusinessCalendar, on connection: PostgresConnection) throws -> String {
        let launch = try CampaignDesk.launch(id, now: now, calendar: calendar, on: connection)
        return launch.resumed
            ? "campaign \(id) resumed: \(launch.batches) batches to send"
            : "campaign \(id) launched: \(launch.targeted) customers targeted in \(launch.batches) batches"
    }
}

enum PauseCampaign: CampaignAction {
    static let name = "pause"
    static let summary = "stop a running campaign's remaining batches until it is launched again"
    static let detail = """
        A batch being sent finishes first; messages already queued still go out. `campaigns
        launch` resumes the batches not sent.
        """
    static func run(_ id: Int64, now: Date, calendar: BusinessCalendar, on connection: PostgresConnection) throws -> String {
        try CampaignDesk.pause(id, on: connection)
        return "campaign \(id) paused"
    }
}

enum CancelCampaign: CampaignAction {
    static let name = "cancel"
    static let summary = "cancel a campaign: remaining batches and unsent messages are dropped; sent ones stay sent"
    static let detail = """
        A batch being sent finishes first. Recipients not yet reached are suppressed as
        cancelled and messages queued but not yet sent are withdrawn from the outbox.
        """
    static func run(_ id: Int64, now: Date, calendar: BusinessCalendar, on connection: PostgresConnection) throws -> String {
        let (recipients, messages) = try CampaignDesk.cancel(id, now: now, on: connection)
        return "campaign \(id) cancelled: \(recipients) recipients not reached, \(messages) queued messages withdrawn"
    }
}

struct CampaignsActionCommand<Action: CampaignAction>: Command {
    static var name: String { Action.name }
    static var summary: String { Action.summary }
    static var options: [CommandOption] { DatabaseOptions.options }
    static var help: String {
        """
        Usage: jobsctl campaigns \(Action.name) CAMPAIGN

        \(Action.detail)

        Arguments:
          CAMPAIGN             the campaign's id, e.g. 3

        Options:
        \(DatabaseOptions.help)
        """
    }

    let campaignID: Int64
    let calendar: BusinessCalendar
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        campaignID = try CampaignsCommand.campaignID(&arguments)
        calendar = try CampaignsCommand.calendar()
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let (id, calendar) = (campaignID, calendar)
        print(try CampaignsCommand.act(database, countingIn: calendar.timeZone) {
            try Action.run(id, now: Date(), calendar: calendar, on: $0)
        })
    }
}

struct CampaignsReportCommand: Command {
    static let name = "report"
    static let summary = "a campaign's targeted, sent, suppressed (with reasons), coupons and orders"
    static let options: [CommandOption] = [OutputFormat.option] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl campaigns report CAMPAIGN [--json]

        Customers targeted; recipients waiting for their batch, suppressed before queueing
        (opted_out, frequency_cap, quiet_hours, window_closed, cancelled) or queued; of the
        queued messages, sent, unsent and not sent by the outbox (with its reason); coupons
        granted and redeemed on an order not cancelled; orders the recipients placed within
        the campaign's attribution days of their message.

        Arguments:
          CAMPAIGN             the campaign's id, e.g. 3

        Options:
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let campaignID: Int64
    let format: OutputFormat
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        campaignID = try CampaignsCommand.campaignID(&arguments)
        format = OutputFormat(arguments: &arguments)
        database = try DatabaseOptions(arguments: &arguments)
    }

    struct Report: Encodable {
        var campaign: Int64
        var name: String
        var status: String
        var batches: Int
        var batchesPending: Int
        var targeted: Int
        var waiting: Int
        var queued: Int
        var suppressed: [String: Int]
        var sent: Int
        var unsent: Int
        var notSent: [String: Int]
        var couponsGranted: Int
        var couponsRedeemed: Int
        var attributionDays: Int
        var ordersPlaced: Int
        var orderingCustomers: Int
    }

    func run() async throws {
        let id = campaignID
        let report = try CampaignsCommand.act(database) { try CampaignReport.of(id, on: $0) }
        if format == .json {
            print(try OutputFormat.json(Report(
                campaign: report.campaignID, name: report.name, status: report.status.rawValue, batches: report.batches,
                batchesPending: report.batchesPending, targeted: report.targeted, waiting: report.waiting,
                queued: report.queued,
                suppressed: Dictionary(uniqueKeysWithValues: report.suppressed.map { ($0.key.rawValue, $0.value) }),
                sent: report.sent, unsent: report.unsent, notSent: report.notSent, couponsGranted: report.couponsGranted,
                couponsRedeemed: report.couponsRedeemed, attributionDays: report.attributionDays,
                ordersPlaced: report.ordersPlaced, orderingCustomers: report.orderingCustomers)))
            return
        }
        var table = TextTable(["figure", "count"])
        var rows: [(String, Int)] = [
            ("batches", report.batches), ("batches pending", report.batchesPending), ("targeted", report.targeted),
            ("waiting for their batch", report.waiting), ("queued", report.queued),
        ]
        for reason in CampaignSuppression.allCases {
            rows.append(("suppressed: \(reason.rawValue)", report.suppressed[reason] ?? 0))
        }
        rows.append(("sent", report.sent))
        rows.append(("unsent (in the outbox)", report.unsent))
        for (reason, count) in report.notSent.sorted(by: { $0.key < $1.key }) {
            rows.append(("not sent by the outbox: \(reason)", count))
        }
        rows.append(("coupons granted", report.couponsGranted))
        rows.append(("coupons redeemed", report.couponsRedeemed))
        rows.append(("orders within \(report.attributionDays) days", report.ordersPlaced))
        rows.append(("customers who ordered", report.orderingCustomers))
        for (figure, count) in rows { table.append([figure, "\(count)"]) }
        print("campaign \(report.campaignID) \"\(report.name)\" (\(report.status.rawValue))")
        print(table.render())
    }
}

struct CampaignsListCommand: Command {
    static let name = "list"
    static let summary = "campaigns, newest first, with their status and send window"
    static let options: [CommandOption] = [.value("--limit", "N", default: "50"), OutputFormat.option] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl campaigns list [--limit N] [--json]

        Campaigns, newest first: status, template, segment and send window (business time zone).

        Options:
          --limit N            at most N campaigns (1–10000, default 50)
        \(OutputFormat.help)
        \(DatabaseOptions.help)
        """

    let limit: Int
    let format: OutputFormat
    let calendar: BusinessCalendar
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        limit = try arguments.integer("--limit", in: 1...10_000) ?? 50
        format = OutputFormat(arguments: &arguments)
        calendar = try CampaignsCommand.calendar()
        database = try DatabaseOptions(arguments: &arguments)
    }

    struct Row: Encodable {
        var id: Int64
        var name: String
        var status: String
        var template: String
        var segment: String
        var startsAt: Date
        var endsAt: Date
        var launchedAt: Date?
    }

    func run() async throws {
        let limit = limit
        let campaigns = try CampaignsCommand.act(database) { try CampaignDesk.list(limit: limit, on: $0) }
        if format == .json {
            print(try OutputFormat.json(campaigns.map {
                Row(id: $0.id, name: $0.name, status: $0.status.rawValue, template: $0.templateCode, segment: $0.segment.json,
                    startsAt: $0.startsAt, endsAt: $0.endsAt, launchedAt: $0.launchedAt)
            }))
            return
        }
        guard !campaigns.isEmpty else {
            print("no campaigns; create one with `jobsctl campaigns create`")
            return
        }
        let zone = calendar.timeZone
        var table = TextTable(["id", "name", "status", "template", "segment", "starts", "ends"])
        for campaign in campaigns {
            table.append([
                "\(campaign.id)", campaign.name, campaign.status.rawValue, campaign.templateCode, campaign.segment.json,
                ZonedTimeText.format(campaign.startsAt, in: zone), ZonedTimeText.format(campaign.endsAt, in: zone),
            ])
        }
        print(table.render())
    }
}
