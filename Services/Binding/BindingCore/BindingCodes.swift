import Messaging

/// The binding rows' reply codes (contract §4), plus the few the contract leaves open.
extension ReplyCode {
    /// `binding.link`: a scope the provider does not offer (`result.unsupported`, `result.supported`).
    public static let scopeUnsupported = ReplyCode(rawValue: "SCOPE_UNSUPPORTED")
    /// `binding.link`: another provider is the primary binding (`result.primary`).
    public static let primaryExists = ReplyCode(rawValue: "PRIMARY_EXISTS")
    /// `binding.link`: an exclusive scope (calendar) is held by a non-temporary binding of another
    /// provider (`result.conflictsWith`, `result.scope`).
    public static let bindingConflict = ReplyCode(rawValue: "BINDING_CONFLICT")
    /// `migration.start`: the account has no active wechat binding.
    public static let bindingRequired = ReplyCode(rawValue: "BINDING_REQUIRED")
    /// `migration.start`: less free storage than `binding.migrationMinFreeBytes` (`result.requiredBytes`).
    public static let insufficientStorage = ReplyCode(rawValue: "INSUFFICIENT_STORAGE")
    /// Not in the contract: the provider is not in the policy's capability matrix. A code of its own
    /// rather than `MALFORMED`, because providers are configuration: the command is well formed,
    /// this deployment just does not offer the provider (`result.providers` lists those it does).
    public static let providerUnsupported = ReplyCode(rawValue: "PROVIDER_UNSUPPORTED")
    /// Not in the contract: the external account is bound to another Registrar account.
    public static let externalAccountTaken = ReplyCode(rawValue: "EXTERNAL_ACCOUNT_TAKEN")
    /// Not in the contract: `binding.unlink` of a provider the account has not bound.
    public static let bindingNotFound = ReplyCode(rawValue: "BINDING_NOT_FOUND")
    /// Not in the contract (identity answers `login` with it): `binding.link` or `migration.start`
    /// for an account frozen by a deregistration request; its bindings are suspended meanwhile.
    public static let accountFrozen = ReplyCode(rawValue: "ACCOUNT_FROZEN")
}
