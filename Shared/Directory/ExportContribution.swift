import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// A service's contribution to an account's data export (issue 17): it follows identity's
/// `account.export_requested` and answers `account.export_part` with what `part` builds of the
/// account, in the same transaction that records the request as handled.
public enum ExportContribution {
    /// Answers every export request with `part(session, accountId, now)`, as `service`.
    public static func follow<Part: Encodable & Sendable>(
        _ router: inout Router, as service: RegistrarService,
        part: @escaping @Sendable (borrowing PostgresSession, String, Date) throws -> Part
    ) {
        router.event(.accountExportRequested, on: RegistrarService.identity.eventTopic, ExportRequested.self) {
            session, event, effects in
            let account = event.data.accountId.lowercased()
            guard UUID(uuidString: account) != nil else { throw MalformedMessage.invalid(field: "data.accountId") }
            try effects.emit(
                .accountExportPart, subject: account,
                data: ExportPart(
                    exportId: event.data.exportId, accountId: account, service: service.rawValue,
                    data: try part(session, account, event.receivedAt)))
        }
    }
}
