/// What "blank" means everywhere: nothing left once every Unicode whitespace
/// character is removed. The list is the Unicode White_Space property plus the
/// invisible zero-width characters; `queue.is_blank(text)` (migration 0010) uses
/// the same list, and a test checks the two agree on every code point.
public enum UnicodeText {
    public static let whitespace: Set<Unicode.Scalar> = [
        // White_Space: tab, line feed, vertical tab, form feed, carriage return, space, next line, no-break space.
        "\u{0009}", "\u{000A}", "\u{000B}", "\u{000C}", "\u{000D}", "\u{0020}", "\u{0085}", "\u{00A0}",
        // Ogham space mark, en quad … hair space.
        "\u{1680}", "\u{2000}", "\u{2001}", "\u{2002}", "\u{2003}", "\u{2004}", "\u{2005}", "\u{2006}", "\u{2007}",
        "\u{2008}", "\u{2009}", "\u{200A}",
        // Line and paragraph separators, narrow no-break space, medium mathematical space, ideographic (full-width) space.
        "\u{2028}", "\u{2029}", "\u{202F}", "\u{205F}", "\u{3000}",
        // Invisible: Mongolian vowel separator, zero-width space, non-joiner, joiner, word joiner, byte-order mark.
        "\u{180E}", "\u{200B}", "\u{200C}", "\u{200D}", "\u{2060}", "\u{FEFF}",
    ]

    public static func isBlank(_ text: some StringProtocol) -> Bool {
        text.unicodeScalars.allSatisfy(isWhitespace)
    }

    /// Membership in `whitespace`, deciding ASCII without hashing (a bulk enqueue asks
    /// for every job's kind and queue).
    private static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII ? scalar == " " || ("\u{0009}"..."\u{000D}").contains(scalar) : whitespace.contains(scalar)
    }

    /// `text` without leading and trailing whitespace (in the sense above).
    public static func trimmed(_ text: some StringProtocol) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isWhitespace($0) }),
            let last = scalars.lastIndex(where: { !isWhitespace($0) })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
