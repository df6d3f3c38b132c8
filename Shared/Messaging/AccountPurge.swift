import Contract
import Foundation
import Postgres

/// How runtime rows are filed under the account they concern, so that the purge at
/// deregistration finds them (docs/decisions.md, "Retention of runtime data").
enum AccountFiling {
    /// `text` as a lowercase UUID when it is one (an account id), else `nil`: event subjects that
    /// name something else (an enterprise, a registration) file nothing.
    static func accountID(_ text: String?) -> String? {
        text.flatMap(UUID.init(uuidString:))?.uuidString.lowercased()
    }

    /// The account a command's reply and subject-less rows are filed under: the one its handler
    /// named (`MessageEffects.concerns`), else the reply's `result.accountId`, else the subject of
    /// the first event it emitted that names an account.
    static func account(of reply: Reply?, effects: MessageEffects) -> String? {
        if let named = effects.account { return named }
        if case .object(let result)? = reply?.result, let id = accountID(result["accountId"]?.stringValue) {
            return id
        }
        return effects.outgoing.lazy.compactMap { accountID($0.event.subject) }.first
    }
}

/// The runtime part of an account's purge, which every service runs in the transaction that
/// deletes its own data of the account and emits `purge.completed`.
public enum AccountPurge {
    /// What the purge did to the runtime's tables.
    public struct Removed: Sendable, Equatable {
        /// Kept replies replaced by the neutral reply.
        public var replies: Int
        /// Outbox rows deleted or set to be blanked once sent.
        public var outbox: Int
    }

    /// The reply a command re-sent after its account's purge gets instead of the one it got then.
    public static let neutralReply = Reply.rejected(
        .accountNotFound, "the account this command concerned was deregistered and its data deleted",
        result: .object(["purged": .bool(true)]))

    /// Removes the copies of `accountID`'s data the runtime holds in the service's schema (see
    /// `MessageStore.purgeAccount`): kept replies become `neutralReply`, sent outbox rows and unsent
    /// replies and notifications go, unsent events are blanked once sent. Rows the caller's
    /// `effects` add afterwards (its `purge.completed`) are not touched.
    @discardableResult
    public static func runtimeCopies(
        _ session: borrowing PostgresSession, accountID: String, effects: MessageEffects
    ) throws -> Removed {
        guard let account = AccountFiling.accountID(accountID) else { return Removed(replies: 0, outbox: 0) }
        let template = CloudEvent(
            source: effects.service.source, type: "registrar.reply", time: effects.now, inreplyto: "",
            data: try JSONValue(encoding: neutralReply))
        let removed = try MessageStore.purgeAccount(
            session, accountID: account, eventTopics: RegistrarService.allCases.map(effects.topics.events),
            neutralReply: String(decoding: template.encoded(), as: UTF8.self))
        return Removed(replies: removed.replies, outbox: removed.outbox)
    }
}
