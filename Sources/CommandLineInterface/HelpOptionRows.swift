/// The options a help text lists: the rows of its options table, which start with
/// the option (`  --lease S   seconds a claim lasts …`, `  --no-listen   poll only`).
/// A single space and a word after the name mark a value; two spaces or the end of
/// the line mark a flag. Used to check declared `CommandOption`s against the help
/// people read, never as the source of them.
public enum HelpOptionRows {
    /// Option name → takes a value, for every row of `help` that starts with `--`.
    public static func options(in help: String) -> [String: Bool] {
        var found: [String: Bool] = [:]
        for line in help.split(separator: "\n", omittingEmptySubsequences: true) {
            let row = line.drop { $0 == " " }
            guard row.hasPrefix("--") else { continue }
            let name = row.prefix { $0 != " " && $0 != "=" }
            let rest = row.dropFirst(name.count)
            let takesValue = rest.hasPrefix("=") || (rest.hasPrefix(" ") && !rest.hasPrefix("  ") && rest.count > 1)
            found[String(name)] = takesValue
        }
        return found
    }

    /// What differs between the declared options and the help's rows, one line each;
    /// empty when they agree. `--help` is implicit in every command.
    public static func mismatches(declared: [CommandOption], help: String) -> [String] {
        let listed = options(in: help).filter { $0.key != "--help" }
        var problems: [String] = []
        for option in declared {
            guard let takesValue = listed[option.name] else {
                problems.append("\(option.name) is declared but its help has no row for it")
                continue
            }
            if takesValue != option.takesValue {
                problems.append(
                    "\(option.name): declared \(option.takesValue ? "with a value" : "as a flag"), "
                        + "but its help row shows \(takesValue ? "a value" : "none")")
            }
        }
        let declaredNames = Set(declared.map(\.name))
        for name in listed.keys.sorted() where !declaredNames.contains(name) {
            problems.append("\(name) is in its help but not declared in its options")
        }
        return problems
    }
}
