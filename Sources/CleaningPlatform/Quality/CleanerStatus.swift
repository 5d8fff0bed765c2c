/// The statuses of `platform.cleaners.status`. Dispatch offers work to `active`
/// cleaners only, so a suspension takes a cleaner out of dispatch.
public enum CleanerStatus {
    public static let active = "active"
    public static let resting = "resting"
    public static let suspended = "suspended"
}
