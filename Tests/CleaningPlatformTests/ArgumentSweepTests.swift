import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Every number, duration, time, week and port a program takes, fed values no
/// parser may accept: each run must be refused with exit status 64 and a first
/// line naming the option — never a trap, a hang or a run on a bad value.
///
/// Nothing here lists commands or options: the executables are the products in
/// BIN_DIR; commands and options come from `--describe-json` where a program has
/// it, else from each group's `--help` ("Commands:") and each command's help text,
/// so a new command or option is swept without touching this file.
final class ArgumentSweepTests: XCTestCase {
    /// Placeholders of values that are parsed strictly (numbers, durations, times,
    /// weeks, ports, ids). Others (Q, KIND, JSON, PATH, URL, LIST …) are free text.
    private static let strictPlaceholders: Set<String> = ["N", "S", "SECONDS", "TIME", "PORT", "YYYY-Www", "ID", "DAY"]

    /// Values that are wrong for every strictly parsed slot: not numbers in plain
    /// notation, or out of every range.
    private static let badNumbers = [
        "nan", "NaN", "inf", "-inf", "infinity", "1e999", "-1e999", "1e3", "0x10", "+5", " 5", "5 ", "5abc",
        "", "１２", "٣", "-1", "-0.5", "9223372036854775808", "-9223372036854775809", "99999999999999999999999",
    ]

    /// Impossible, non-normalised or oddly written times and ISO weeks (swept into
    /// every TIME and week slot, besides the numbers).
    private static let badTimesAndWeeks = [
        "2026-02-30T10:00:00+08:00", "2027-02-29T10:00:00+08:00", "2026-11-23T10:00:00+25:00",
        "2026-11-23T10:00:00+08:00x", "2026-11-23T24:00:00Z", "2026-11-23T10:00:00", "2026-11-23",
        "10000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "+1e999d", "-1e999d", "+99999999d", "-99999999d",
        "2026-W54", "2026-W00", "2026W47", "2026-W47-1", "2026-w47", "+2026-W47", "2026-W4", "12026-W47",
        "2026-W47 ", "1999-W01", "2025-W53",
    ]

    /// Impossible or oddly written calendar days (swept into every DAY slot, besides the numbers).
    private static let badDays = [
        "2026-02-30", "2027-02-29", "2026-13-01", "2026-00-10", "0000-01-01", "2026-1-1", "26-11-23", "2026/11/23",
        "2026-11-23 ", " 2026-11-23", "2026-11-23T10:00:00Z", "２０２６-11-23", "20261123",
    ]

    private static func badValues(for placeholder: String) -> [String] {
        switch placeholder {
        case "TIME", "YYYY-Www": badNumbers + badTimesAndWeeks
        case "DAY": badNumbers + badDays
        default: badNumbers
        }
    }

    private struct Leaf {
        var executable: String
        var path: [String]
        var help: String
        /// Option → its value's placeholder: from `--describe-json` where the program
        /// declares its options, else read from the help text.
        var options: [String: String]
    }

    private struct Run {
        var arguments: [String]
        var status: Int32?
        var output: String
    }

    func testEveryStrictOptionOfEveryCommandRefusesBadValuesWithExit64() async throws {
        // A list value that is valid free text runs its command: against a migrated test database.
        try TestDatabase.migrate()
        let leaves = try await discoverLeaves()
        XCTAssertGreaterThanOrEqual(Set(leaves.map(\.executable)).count, 2, "executables found: \(leaves.map(\.executable))")
        /// `mayPass`: the value can be valid free text (a list item), so exit 0 is fine.
        var planned: [(arguments: [String], executable: String, option: String?, mayPass: Bool)] = []
        for leaf in leaves {
            let usage = Self.usage(leaf.help)
            let positionals = Self.requiredPositionals(usage)
            let fillers = positionals.map { Self.example(for: $0, in: leaf.help) ?? "sweep" }
            var required: [String] = []
            for option in Self.requiredOptions(usage) {
                guard let example = Self.example(for: option, in: leaf.help) else {
                    XCTFail("\(leaf.path.joined(separator: " ")): required \(option) has no example (e.g. …) in --help")
                    continue
                }
                required += [option, example]
            }
            for (index, placeholder) in positionals.enumerated() where Self.strictPlaceholders.contains(placeholder) {
                for value in Self.badValues(for: placeholder) {
                    planned.append((leaf.path + Array(fillers[..<index]) + [value], leaf.executable, nil, false))
                }
            }
            let options = leaf.options.filter { Self.strictPlaceholders.contains($0.value) }
            XCTAssertNotNil(leaf.help.range(of: "Usage:"), "\(leaf.path): help has a Usage line")
            // A list's items may be free text (queue names), so only a bad number
            // after "=" (queue=N) is sure to be wrong; 0 is allowed, a hang or trap is not.
            for (option, placeholder) in leaf.options where placeholder == "LIST" {
                let others = Self.removing(option, from: required)
                // (Spaces around list items are allowed: " 5" is no bad value here.)
                for value in Self.badNumbers where !value.hasPrefix(" ") && !value.hasSuffix(" ") {
                    planned.append((leaf.path + fillers + others + [option, "x=" + value], leaf.executable, nil, true))
                }
            }
            for (option, placeholder) in options {
                let others = Self.removing(option, from: required)
                for value in Self.badValues(for: placeholder) {
                    planned.append((leaf.path + fillers + others + [option, value], leaf.executable, option, false))
                }
            }
        }
        XCTAssertGreaterThan(planned.count, 500, "the sweep found the programs' options")
        let runs = try await runAll(planned.map { ($0.executable, $0.arguments) })
        var failures: [String] = []
        for (run, plan) in zip(runs, planned) {
            let shown = "\((plan.executable as NSString).lastPathComponent) \(run.arguments.map { "\"\($0)\"" }.joined(separator: " "))"
            guard let status = run.status else {
                failures.append("\(shown): still running after 30 s (the bad value was accepted)")
                continue
            }
            let firstLine = run.output.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
            if status >= 128 {
                failures.append("\(shown): killed by signal \(status - 128): \(run.output.prefix(300))")
            } else if status != 64 && !(plan.mayPass && status == 0) {
                failures.append("\(shown): exit \(status), expected 64: \(run.output.prefix(300))")
            } else if let option = plan.option, !firstLine.contains(option) {
                failures.append("\(shown): the first line does not name \(option): \(firstLine)")
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) of \(runs.count) runs:\n" + failures.prefix(40).joined(separator: "\n"))
    }

    /// `--database-url` with a password is refused by every command that takes it,
    /// however the password is written, and the password is never printed.
    func testEveryCommandRefusesAPasswordOnTheCommandLineInAnySpelling() async throws {
        let secret = "Sw33p-\(Int.random(in: 1000...9999))"
        let spellings = [
            "host=127.0.0.1\tpassword=\(secret)", "host=127.0.0.1  password  =  '\(secret)'",
            "postgresql://u:\(secret)@127.0.0.1/db", "postgresql://127.0.0.1/db?sslmode=disable&password=\(secret)",
            "postgresql://127.0.0.1/db?pass%77ord=\(secret)", "host=127.0.0.1 \(secret)",
        ]
        let leaves = try await discoverLeaves().filter { $0.options["--database-url"] != nil }
        XCTAssertGreaterThan(leaves.count, 10, "commands taking --database-url")
        var planned: [(String, [String])] = []
        for leaf in leaves {
            let usage = Self.usage(leaf.help)
            let fillers = Self.requiredPositionals(usage).map { Self.example(for: $0, in: leaf.help) ?? "1" }
            let required = Self.requiredOptions(usage).flatMap { [$0, Self.example(for: $0, in: leaf.help) ?? ""] }
            for url in spellings {
                planned.append((leaf.executable, leaf.path + fillers + required + ["--database-url", url]))
            }
        }
        let runs = try await runAll(planned)
        for run in runs {
            XCTAssertEqual(run.status, 64, "\(run.arguments): \(run.output.prefix(300))")
            XCTAssertTrue(run.output.contains("--database-url"), "\(run.arguments): \(run.output.prefix(300))")
            XCTAssertFalse(run.output.contains(secret), "\(run.arguments) printed the password: \(run.output)")
        }
    }

    /// A misspelled business time zone stops every command that counts days or
    /// weeks, before it does anything — no trap, no silent Asia/Shanghai.
    func testAnUnknownBusinessTimeZoneIsRefusedNotReplaced() async throws {
        for (executable, arguments) in [
            ("jobsctl", ["seed"]), ("jobsctl", ["payouts", "run", "--period", "2026-W47"]),
            ("jobsctl", ["payouts", "audit", "--period", "2026-W47"]), ("jobsctl", ["orders", "complete", "1"]),
            ("queue-worker", []),
        ] {
            let output = NSTemporaryDirectory() + TestDatabase.uniqueName("zone") + ".out"
            let process = try ChildProcess(
                executable: try TestDatabase.executable(executable), arguments: arguments,
                environment: ["DATABASE_URL": try TestDatabase.url, "BUSINESS_TIME_ZONE": "Mars/Olympus_Mons"],
                outputPath: output)
            let status = await process.wait(timeout: .seconds(30))
            if status == nil { process.signal(SIGKILL) }
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: output)
            XCTAssertEqual(status, 1, "\(executable) \(arguments): \(text)")
            XCTAssertTrue(text.contains("BUSINESS_TIME_ZONE \"Mars/Olympus_Mons\" is not a time zone"), text)
        }
    }

    /// A worker whose business time zone is not the database's (platform.business_hours,
    /// where SQL counts complaint deadlines) refuses to start and says how to make them
    /// agree, instead of deciding payout weeks in one zone and deadlines in another.
    func testAWorkerWhoseBusinessTimeZoneIsNotTheDatabasesRefusesToStart() async throws {
        // The zone the worker is compared with is a migrated table's row.
        try TestDatabase.migrate()
        let zone = try TestDatabase.connect().query("SELECT time_zone FROM platform.business_hours").scalar(String.self)
        let other = zone == "Europe/Berlin" ? "America/Chicago" : "Europe/Berlin"
        let output = NSTemporaryDirectory() + TestDatabase.uniqueName("zone") + ".out"
        let process = try ChildProcess(
            executable: try TestDatabase.executable("queue-worker"), arguments: [],
            environment: ["DATABASE_URL": try TestDatabase.url, "BUSINESS_TIME_ZONE": other], outputPath: output)
        let status = await process.wait(timeout: .seconds(30))
        if status == nil { process.signal(SIGKILL) }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: output)
        XCTAssertEqual(status, 1, text)
        XCTAssertTrue(
            text.contains("platform.business_hours counts business hours in \(zone) but BUSINESS_TIME_ZONE is \(other)")
                && text.contains("Set BUSINESS_TIME_ZONE=\(zone)"), text)
    }

    /// The positive side of "validated, not normalised": a real date on 29 February of
    /// a leap year, with its offset, is stored as that instant.
    func testARealTimeIsAcceptedAsTheInstantItNames() async throws {
        let fixture = try PlatformFixture()
        let run = try await JobsctlRun.run([
            "enqueue", ExpireCoupons.kind, "--queue", TestDatabase.uniqueName("sweep"),
            "--run-at", "2028-02-29T23:30:15.25+08:00", "--json",
        ])
        XCTAssertEqual(run.status, 0, run.output)
        let id = try XCTUnwrap((try run.json() as? [String: Any])?["id"] as? Int, run.output)
        let administration = JobAdministration(database: fixture.pool)
        let detail = try await administration.show(Int64(id))
        let job = try XCTUnwrap(detail).job
        // 2028-02-29T15:30:15.25Z
        XCTAssertEqual(job.runAt.timeIntervalSince1970, 1_835_451_015.25, accuracy: 0.001)
        _ = try await administration.delete(Int64(id))
    }

    // MARK: - Discovery

    private func discoverLeaves() async throws -> [Leaf] {
        guard let folder = ProcessInfo.processInfo.environment["BIN_DIR"] else {
            throw ChildProcessError(message: "BIN_DIR is not set: run the tests with scripts/test.sh")
        }
        let products = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasSuffix(".product") }.map { String($0.dropLast(".product".count)) }
            .filter { FileManager.default.isExecutableFile(atPath: folder + "/" + $0) }.sorted()
        var leaves: [Leaf] = []
        var pending: [(String, [String])] = []
        for product in products {
            let executable = folder + "/" + product
            let described = try await runAll([(executable, ["--describe-json"])])[0]
            if described.status == 0, let tree = try? JSONSerialization.jsonObject(with: Data(described.output.utf8)) {
                for (path, options) in Self.describedLeaves(tree as? [String: Any] ?? [:]) {
                    let help = try await runAll([(executable, path + ["--help"])])[0]
                    XCTAssertEqual(help.status, 0, "\(product) \(path) --help: \(help.output.prefix(300))")
                    leaves.append(Leaf(executable: executable, path: path, help: help.output, options: options))
                }
            } else {
                pending.append((executable, []))
            }
        }
        while let (executable, path) = pending.popLast() {
            let run = try await runAll([(executable, path + ["--help"])])[0]
            XCTAssertEqual(run.status, 0, "\(executable) \(path) --help: \(run.output.prefix(300))")
            let commands = Self.subcommands(run.output)
            if commands.isEmpty {
                leaves.append(Leaf(executable: executable, path: path, help: run.output, options: Self.options(run.output)))
            } else {
                pending += commands.map { (executable, path + [$0]) }
            }
        }
        return leaves
    }

    /// The commands without subcommands of a `--describe-json` tree (`path` is
    /// "program word…"), with their value-taking options.
    private static func describedLeaves(_ node: [String: Any]) -> [([String], [String: String])] {
        let children = node["commands"] as? [[String: Any]] ?? []
        guard children.isEmpty else { return children.flatMap(describedLeaves) }
        let path = (node["path"] as? String ?? "").split(separator: " ").dropFirst().map(String.init)
        var options: [String: String] = [:]
        for option in node["options"] as? [[String: Any]] ?? [] {
            if let name = option["name"] as? String, let value = option["value_name"] as? String { options[name] = value }
        }
        return [(path, options)]
    }

    /// The names of a group's "Commands:" section.
    private static func subcommands(_ help: String) -> [String] {
        guard let section = help.range(of: "\nCommands:\n") else { return [] }
        var names: [String] = []
        for line in help[section.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("  "), let name = line.split(separator: " ").first else { break }
            names.append(String(name))
        }
        return names
    }

    /// The first usage form: the "Usage:" line and its indented continuation lines.
    private static func usage(_ help: String) -> String {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.contains("Usage:") }) else { return "" }
        var text = String(lines[start].split(separator: "Usage:", maxSplits: 1).last ?? "")
        for line in lines[(start + 1)...] {
            let trimmed = line.drop { $0 == " " }
            guard trimmed.count < line.count, trimmed.hasPrefix("[") || trimmed.hasPrefix("-") else { break }
            text += " " + trimmed
        }
        return text
    }

    /// The usage line without its optional parts.
    private static func mandatoryWords(_ usage: String) -> [String] {
        var depth = 0
        var kept = ""
        for character in usage {
            if character == "[" { depth += 1 } else if character == "]" { depth -= 1 } else if depth == 0 {
                kept.append(character)
            }
        }
        return kept.split(whereSeparator: { " ()|.".contains($0) }).map(String.init)
    }

    private static func requiredPositionals(_ usage: String) -> [String] {
        let words = mandatoryWords(usage)
        return words.enumerated().compactMap { index, word in
            let isValueOfOption = index > 0 && words[index - 1].hasPrefix("--")
            let isPlaceholder = word.first?.isUppercase == true && word != "OPTIONS" && word != "COMMAND"
            return isPlaceholder && !isValueOfOption ? word : nil
        }
    }

    private static func requiredOptions(_ usage: String) -> [String] {
        mandatoryWords(usage).filter { $0.hasPrefix("--") }
    }

    /// Every `--option PLACEHOLDER` the help mentions (options without a value are left out).
    private static func options(_ help: String) -> [String: String] {
        var found: [String: String] = [:]
        let pattern = /(--[a-z][a-z0-9-]*)[ =]\[?([A-Z][A-Za-z0-9-]*)/
        for match in help.matches(of: pattern) {
            found[String(match.output.1)] = String(match.output.2)
        }
        return found
    }

    /// The value after "e.g." on the help line that describes `name` (an option or a placeholder).
    private static func example(for name: String, in help: String) -> String? {
        for line in help.split(separator: "\n") where line.drop(while: { $0 == " " }).hasPrefix(name + " ") {
            guard let range = line.range(of: "e.g. ") else { continue }
            return String(line[range.upperBound...].prefix { !" ,;:)".contains($0) })
        }
        return nil
    }

    private static func removing(_ option: String, from pairs: [String]) -> [String] {
        stride(from: 0, to: pairs.count, by: 2).flatMap { pairs[$0] == option ? [] : [pairs[$0], pairs[$0 + 1]] }
    }

    // MARK: - Running

    /// Runs the commands, a few at a time, against the test database (should a
    /// value be wrongly accepted, nothing else is touched).
    private func runAll(_ commands: [(String, [String])]) async throws -> [Run] {
        let environment = ["DATABASE_URL": try TestDatabase.url]
        return try await withThrowingTaskGroup(of: (Int, Run).self) { group in
            var results = [Run?](repeating: nil, count: commands.count)
            var next = 0
            func start() throws {
                let index = next
                let (executable, arguments) = commands[index]
                next += 1
                let output = NSTemporaryDirectory() + TestDatabase.uniqueName("sweep") + ".out"
                let process = try ChildProcess(
                    executable: executable, arguments: arguments, environment: environment, outputPath: output)
                group.addTask {
                    let status = await process.wait(timeout: .seconds(30))
                    if status == nil {
                        process.signal(SIGKILL)
                        _ = await process.wait()
                    }
                    let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                    try? FileManager.default.removeItem(atPath: output)
                    return (index, Run(arguments: arguments, status: status, output: text))
                }
            }
            while next < min(8, commands.count) { try start() }
            while let (index, run) = try await group.next() {
                results[index] = run
                if next < commands.count { try start() }
            }
            return results.map { $0! }
        }
    }
}
