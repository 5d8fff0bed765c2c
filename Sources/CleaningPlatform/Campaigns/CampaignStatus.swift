/// Where a campaign is (`platform.campaigns.status`): written as a draft,
/// launched (its batches are being sent), paused (remaining batches wait for a
/// relaunch) or cancelled (remaining batches never go out; what was sent stays sent).
public enum CampaignStatus: String, Sendable, CaseIterable {
    case draft, running, paused, cancelled
}

/// Why a targeted customer got no campaign message (`platform.campaign_recipients.suppression`).
public enum CampaignSuppression: String, Sendable, CaseIterable {
    /// The customer opted out of marketing.
    case optedOut = "opted_out"
    /// The customer already got the most campaign messages the frequency cap allows.
    case frequencyCap = "frequency_cap"
    /// Marketing quiet hours lasted until the send window closed.
    case quietHours = "quiet_hours"
    /// The send window closed before the recipient's batch ran.
    case windowClosed = "window_closed"
    /// The campaign was cancelled before the recipient's batch ran.
    case cancelled
}
