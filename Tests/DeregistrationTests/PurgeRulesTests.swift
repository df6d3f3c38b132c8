import Testing

@testable import DeregistrationCore

@Suite struct PurgeRulesTests {
    @Test func anAccountIsPurgedOnlyWhenEveryCategoryIsConfirmed() {
        #expect(PurgeRules.isComplete(confirmed: PurgeRules.expected))
        #expect(PurgeRules.isComplete(confirmed: PurgeRules.expected.union(["wallet:financial"])))
        for missing in PurgeRules.expected {
            #expect(!PurgeRules.isComplete(confirmed: PurgeRules.expected.subtracting([missing])))
        }
        #expect(!PurgeRules.isComplete(confirmed: []))
    }

    @Test func aConfirmationIsKeyedByServiceAndCategory() {
        #expect(PurgeRules.key(service: "identity", category: "personal") == "identity:personal")
        #expect(PurgeRules.expected.contains(PurgeRules.key(service: "permissions", category: "contacts")))
    }
}
