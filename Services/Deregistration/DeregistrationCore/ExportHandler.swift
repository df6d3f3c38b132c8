import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// One deregistration request in the export.
struct ExportedRequest: Encodable, Sendable {
    /// `cooling`, `revoked` or `finalized`.
    var state: String
    var requestedAt: String
    var cooldownEndsAt: String
    /// When it was revoked or finalized.
    var closedAt: String?
}

/// Deregistration's part of an export (issue 17): where the account stands (as
/// `deregistration.status` answers) and its requests with their outcome.
struct DeregistrationExportPart: Encodable, Sendable {
    var status: StatusResult
    var requests: [ExportedRequest]
    /// True when more requests exist than `privacy.exportListLimit`.
    var truncated: Bool
}

/// Answers identity's `account.export_requested` with `account.export_part`.
enum ExportHandler {
    static func register(_ router: inout Router, policy: Policy) {
        ExportContribution.follow(&router, as: .deregistration) { session, account, now in
            let limit = policy.privacy.exportListLimit
            let requests = try DeregistrationStore.requests(session, accountID: account, limit: limit + 1)
            return DeregistrationExportPart(
                status: StatusResult(accountId: account, CooldownRules.status(of: requests.first, now: now)),
                requests: requests.prefix(limit).map { request in
                    ExportedRequest(
                        state: request.state.rawValue, requestedAt: CloudEvent.timestamp(request.requestedAt),
                        cooldownEndsAt: CloudEvent.timestamp(request.cooldownEndsAt),
                        closedAt: request.closedAt.map(CloudEvent.timestamp))
                }, truncated: requests.count > limit)
        }
    }
}
