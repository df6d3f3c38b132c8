import Contract
import Kafka
import Platform

extension Topics {
    /// The retention the policy gives a topic of the contract (`base` is its unprefixed name):
    /// commands and events by kind, the replies, SMS, push and dead-letter topics each their own.
    public static func retention(ofBase base: String, in policy: Policy.TopicRetention) -> Policy.TopicWindow {
        switch base {
        case "registrar.replies": return policy.replies
        case "notifications.sms": return policy.sms
        case "notifications.push": return policy.push
        case "registrar.deadletter": return policy.deadLetter
        case _ where base.hasSuffix(".events"): return policy.events
        default: return policy.commands
        }
    }

    /// Every topic of the contract, prefixed, with the configuration the policy gives it
    /// (`retention.ms`, `segment.ms`): what `registrar topics create` asks the broker for.
    public func specifications(retention policy: Policy.TopicRetention, partitions: Int32, replication: Int32)
        -> [KafkaTopicSpecification]
    {
        Self.all.map { base in
            KafkaTopicSpecification(
                name: name(base), partitions: partitions, replication: replication,
                config: Self.retention(ofBase: base, in: policy).topicConfig)
        }
    }
}
