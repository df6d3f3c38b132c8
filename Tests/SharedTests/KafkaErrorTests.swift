import Testing

@testable import Kafka

@Suite struct KafkaErrorTests {
    @Test func theCodeConstantsAreLibrdkafkasValues() {
        #expect(RDKafkaErrors.codesMatchTheHeader)
        #expect(Set(RDKafkaErrors.codes.map(\.0)).count == RDKafkaErrors.codes.count)
    }
}
