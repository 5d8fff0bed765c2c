/// PostgreSQL's text form of a one-dimensional array (`{"a","b c"}`), for a value
/// sent as text and cast to an array on the server — e.g. one list per row inside a
/// text[] parameter, where an array of arrays would have to be rectangular.
public enum PostgresArrayLiteral {
    /// Every element double-quoted, so commas, braces, spaces and the word NULL stay
    /// data; only `"` and `\` need a backslash inside quotes.
    public static func text(_ elements: [String]) -> String {
        var literal = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 { literal += "," }
            literal += "\""
            for character in element.unicodeScalars {
                if character == "\"" || character == "\\" { literal += "\\" }
                literal.unicodeScalars.append(character)
            }
            literal += "\""
        }
        return literal + "}"
    }

    public static func integers(_ elements: [Int64]) -> String {
        "{" + elements.map(String.init).joined(separator: ",") + "}"
    }
}
