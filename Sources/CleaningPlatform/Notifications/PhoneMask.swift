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

    /// Masks every mainland mobile number inside free text — an 11-digit run
    /// starting with 1, also when written `138 1234 5678` / `138-1234-5678` or glued
    /// to an `86` country code — so gateway error texts that echo the recipient can
    /// be logged and stored. Longer or shorter digit runs (ids, amounts) stay as
    /// they are.
    public static func maskAll(in text: String) -> String {
        var characters = Array(text)
        var index = 0
        while index < characters.count {
            guard characters[index].isASCIIDigit, index == 0 || !characters[index - 1].isASCIIDigit else {
                index += 1
                continue
            }
            let run = digitRun(in: characters, from: index)
            if run.count == 11, characters[index] == "1" {
                hide(&characters, positions: Array(index + 3..<index + 7))
            } else if run.count == 13, String(characters[index..<index + 3]) == "861" {
                hide(&characters, positions: Array(index + 5..<index + 9))
            } else if run.count == 3, characters[index] == "1",
                let groups = spacedGroups(in: characters, afterPrefixAt: index)
            {
                hide(&characters, positions: groups)
            }
            index += max(run.count, 1)
        }
        return String(characters)
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

    /// For `1xx 1234 5678` (one space or dash between groups of exactly 3, 4 and 4
    /// digits) the positions of the middle group.
    private static func spacedGroups(in characters: [Character], afterPrefixAt start: Int) -> [Int]? {
        var position = start + 3
        var middle: [Int] = []
        for length in [4, 4] {
            guard position < characters.count, characters[position] == " " || characters[position] == "-"
            else { return nil }
            let run = digitRun(in: characters, from: position + 1)
            guard run.count == length else { return nil }
            if middle.isEmpty { middle = Array(run.indices) }
            position = run.endIndex
        }
        return middle
    }

    private static func hide(_ characters: inout [Character], positions: [Int]) {
        for position in positions { characters[position] = "*" }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
