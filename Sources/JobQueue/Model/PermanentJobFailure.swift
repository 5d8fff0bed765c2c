/// An error no retry can fix (invalid input, a row that does not exist): the
/// worker discards the job at once with the error's text instead of retrying it.
/// Domain errors adopt it to say "permanent" without the engine knowing them.
public protocol PermanentJobFailure: Error, Sendable {}
