/// The name of a user-notification template (issue 18): one file per locale in
/// `deploy/templates/<locale>/<name>.txt`, filled with the `params` of `push.requested` (parameters
/// only: ids, dates, masked values; never a raw phone, code or name). The service that owns the
/// cause sends it, once per cause, in the transaction of the cause (`MessageEffects.notify`).
public struct NotificationTemplate: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The template's name as sent.
    public let rawValue: String
    /// Wraps a name.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The name.
    public var description: String { rawValue }

    // MARK: permissions
    /// An admin invited the account to an enterprise (`enterpriseId`, `invitationId`, `expiresAt`).
    public static let enterpriseInvitation = NotificationTemplate(rawValue: "enterprise.invitation")
    /// The enterprise policy that applies to the member changed (`enterpriseId`, `momentsEnabled`,
    /// `maxExternalContacts`: `on`/`off`/a number/`default`).
    public static let enterprisePolicyChanged = NotificationTemplate(rawValue: "enterprise.policy_changed")
    /// The admin removed the member from the enterprise (`enterpriseId`).
    public static let enterpriseMemberRemoved = NotificationTemplate(rawValue: "enterprise.member_removed")

    // MARK: deregistration
    /// The deregistration was requested (`cooldownEndsAt`; the text says how to revoke).
    public static let deregistrationRequested = NotificationTemplate(rawValue: "deregistration.requested")
    /// The cool-down ends within `deregistration.reminderBeforeEnd` (`cooldownEndsAt`).
    public static let deregistrationReminder = NotificationTemplate(rawValue: "deregistration.reminder")
    /// The cool-down ended: the account is deregistered (`deregisteredAt`, `phoneBlockedUntil`).
    public static let deregistrationCompleted = NotificationTemplate(rawValue: "deregistration.completed")

    /// Every template the project ships (each in every locale of `notifications.locales`).
    public static let all: [NotificationTemplate] = [
        .enterpriseInvitation, .enterprisePolicyChanged, .enterpriseMemberRemoved, .deregistrationRequested,
        .deregistrationReminder, .deregistrationCompleted,
    ]
}

/// `data` of `push.requested` on `notifications.push`, keyed by the account.
public struct PushRequested: Codable, Sendable, Equatable {
    /// The account to tell.
    public var accountId: String
    /// The template (`NotificationTemplate`).
    public var template: String
    /// The locale to render it in (`notifications.defaultLocale`).
    public var locale: String
    /// The template's parameters.
    public var params: [String: String]

    /// Creates the payload.
    public init(accountId: String, template: String, locale: String, params: [String: String]) {
        self.accountId = accountId
        self.template = template
        self.locale = locale
        self.params = params
    }
}
