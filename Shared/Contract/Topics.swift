/// The four services of Registrar.
public enum RegistrarService: String, Sendable, CaseIterable {
    case identity
    case permissions
    case binding
    case deregistration

    /// The PostgreSQL schema the service owns (and the only one it touches).
    public var schema: String { rawValue }
    /// CloudEvents `source` of what the service writes.
    public var source: String { "/registrar/\(rawValue)" }
    /// Base name of the command topic.
    public var commandTopic: String { "\(rawValue).commands" }
    /// Base name of the event topic.
    public var eventTopic: String { "\(rawValue).events" }
    /// Executable and consumer-group name.
    public var processName: String { "registrar-\(rawValue)" }
}

/// Topic names, with the deployment's prefix (`REGISTRAR_TOPIC_PREFIX`) applied.
public struct Topics: Sendable {
    /// The prefix, e.g. `t1732608000-` in a test run; empty in production.
    public let prefix: String

    /// Creates the name set.
    public init(prefix: String) { self.prefix = prefix }

    /// Every topic of the contract (§1), unprefixed.
    public static let all: [String] = [
        "identity.commands", "permissions.commands", "binding.commands", "deregistration.commands",
        "identity.events", "permissions.events", "binding.events", "deregistration.events",
        "registrar.replies", "notifications.sms", "notifications.push", "registrar.deadletter",
    ]

    /// `prefix + base`.
    public func name(_ base: String) -> String { prefix + base }
    /// The replies topic.
    public var replies: String { name("registrar.replies") }
    /// The dead-letter topic.
    public var deadLetter: String { name("registrar.deadletter") }
    /// The SMS notification topic.
    public var sms: String { name("notifications.sms") }
    /// The user-notification topic (issue 18).
    public var push: String { name("notifications.push") }
    /// A service's command topic.
    public func commands(_ service: RegistrarService) -> String { name(service.commandTopic) }
    /// A service's event topic.
    public func events(_ service: RegistrarService) -> String { name(service.eventTopic) }
    /// Every topic, prefixed.
    public var allNames: [String] { Self.all.map(name) }
}
