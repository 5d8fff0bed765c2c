import CleaningPlatform
import Foundation

/// What a viewer sees of job arguments and errors: values under sensitive keys
/// (phone numbers, addresses, tokens, secrets) replaced, and every phone number left
/// in the text masked (`PhoneMask`), so the console's read-only role cannot read
/// customers' personal data.
enum ArgumentMask {
    static let sensitiveKeyParts = ["phone", "mobile", "address", "token", "secret", "password", "recipient"]

    static func mask(json text: String) -> String {
        guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]),
            let data = try? JSONSerialization.data(withJSONObject: masked(value), options: [.sortedKeys, .fragmentsAllowed]),
            let rendered = String(data: data, encoding: .utf8)
        else { return PhoneMask.maskAll(in: text) }
        return PhoneMask.maskAll(in: rendered)
    }

    static func mask(text: String) -> String {
        PhoneMask.maskAll(in: text)
    }

    private static func masked(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            var result: [String: Any] = [:]
            for (key, inner) in object {
                let lowered = key.lowercased()
                result[key] = sensitiveKeyParts.contains(where: lowered.contains) ? "•••" : masked(inner)
            }
            return result
        }
        if let array = value as? [Any] { return array.map(masked) }
        return value
    }
}
