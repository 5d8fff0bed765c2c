import JobQueue

/// Hides phone numbers before they reach logs, error messages or stored reasons.
///
/// Customers' and cleaners' numbers are personal data: log lines are shipped and
/// kept far longer than the numbers' owners would expect, so every place that
/// writes a recipient or gateway text goes through here. The masked form keeps
/// enough (operator prefix and last four digits) for support staff to tell two
/// numbers apart without being able to call either.
public enum PhoneMask {
    /// Masks one phone number (or any recipient address).
    ///
    /// - Mainland mobile numbers (11 digits starting with 1) become `138****5678`;
    ///   with a `+86` / `86` / `0086` country prefix the prefix is kept:
    ///   `+86 138****5678`. Spaces and dashes in the input are ignored for these.
    /// - Other inputs keep their layout; of their digits, fewer than 7 leave only
    ///   the last 2 visible, 7–10 leave the last 4, 11 or more leave the first 3
    ///   and the last 4.
    ///
    /// Any input with 3 or more digits comes back changed.
    public static func mask(_ phone: String) -> String {
        let trimmed = UnicodeText.trimmed(phone)
        let digits = trimmed.filter(\.isASCIIDigit)
        if let national = mainlandMobile(trimmed, digits: digits) {
            let masked = maskMobile(national.number)
            return national.prefix.map { "\($0) \(masked)" } ?? masked
        }
        return maskDigits(of: phone, count: digits.count)
    }

    /// Masks every mainland mobile number inside free text, in every form it is
    /// written in: bare (`13812345678`), with its country code (`+86`, `86`, `0086`,
    /// glued or apart) and grouped by single spaces or dashes in any way
    /// (`138 1234 5678`, `138-1234-5678`, `+86 138-1234-5678`). So gateway error
    /// texts that echo the recipient can be logged and stored. Digit runs that are no
    /// such number (ids, amounts, times) stay as they are.
    public static func maskAll(in text: String) -> String {
        var characters = Array(text)
        // Runs of ASCII digits; a run joins the previous one's chain when exactly one
        // space or dash separates them.
        var chains: [[Range<Int>]] = []
        var index = 0
        while index < characters.count {
            guard characters[index].isASCIIDigit else {
                index += 1
                continue
            }
            let run = index..<(digitRun(in: characters, from: index).endIndex)
            if let previous = chains.last?.last, previous.upperBound + 1 == run.lowerBound,
                characters[previous.upperBound] == " " || characters[previous.upperBound] == "-"
            {
                chains[chains.count - 1].append(run)
            } else {
                chains.append([run])
            }
            index = run.upperBound
        }
        for chain in chains {
            for first in chain.indices {
                var positions: [Int] = []
                for run in chain[first...] {
                    positions += Array(run)
                    guard positions.count <= 15 else { break }
                    if let middle = mobileMiddle(positions.map { characters[$0] }) {
                        hide(&characters, positions: middle.map { positions[$0] })
                    }
                }
            }
        }
        return String(characters)
    }

    /// For the digits of a whole mainland mobile number — 11 digits starting with 1,
    /// optionally after 86 or 0086 — the offsets of its middle four digits.
    private static func mobileMiddle(_ digits: [Character]) -> Range<Int>? {
        for prefix in ["", "86", "0086"] where digits.count == prefix.count + 11 {
            if String(digits.prefix(prefix.count)) == prefix, digits[prefix.count] == "1" {
                return (prefix.count + 3)..<(prefix.count + 7)
            }
        }
        return nil
    }

    // MARK: - Helpers

    /// The national number and the country prefix as written, when `text` is a
    /// mainland mobile number with nothing but separators around its digits.
    private static func mainlandMobile(_ text: String, digits: String) -> (prefix: String?, number: String)? {
        guard text.allSatisfy({ $0.isASCIIDigit || " -()+".contains($0) }) else { return nil }
        let plus = text.hasPrefix("+")
        for (code, shown) in [("", nil), ("86", plus ? "+86" : "86"), ("0086", "0086")] as [(String, String?)] {
            guard digits.count == code.count + 11, digits.hasPrefix(code) else { continue }
            if code.isEmpty && plus { continue }  // "+1…" with 11 digits is a foreign number
            let number = String(digits.dropFirst(code.count))
            if number.hasPrefix("1") { return (shown, number) }
        }
        return nil
    }

    private static func maskMobile(_ number: String) -> String {
        "\(number.prefix(3))****\(number.suffix(4))"
    }

    /// Replaces digits of `text` by `*` in place, keeping every other character.
    private static func maskDigits(of text: String, count: Int) -> String {
        let visibleHead: Int
        let visibleTail: Int
        switch count {
        case ..<7: (visibleHead, visibleTail) = (0, 2)
        case 7...10: (visibleHead, visibleTail) = (0, 4)
        default: (visibleHead, visibleTail) = (3, 4)
        }
        var seen = 0
        return String(
            text.map { character -> Character in
                guard character.isASCIIDigit else { return character }
                defer { seen += 1 }
                return seen < visibleHead || seen >= count - visibleTail ? character : "*"
            })
    }

    private static func digitRun(in characters: [Character], from start: Int) -> ArraySlice<Character> {
        var end = start
        while end < characters.count, characters[end].isASCIIDigit { end += 1 }
        return characters[start..<end]
    }

    private static func hide(_ characters: inout [Character], positions: [Int]) {
        for position in positions { characters[position] = "*" }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
