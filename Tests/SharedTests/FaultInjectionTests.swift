import Platform
import Testing

struct FaultInjectionTests {
    @Test func aSpecificationArmsOnePointOnly() {
        #expect(FaultInjection("after_db_commit:3").isArmed(at: .afterDatabaseCommit))
        #expect(!FaultInjection("after_db_commit:3").isArmed(at: .afterPublish))
        #expect(FaultInjection("after_publish").isArmed(at: .afterPublish))
        #expect(!FaultInjection(nil).isArmed(at: .afterPublish))
        #expect(!FaultInjection("before_breakfast:1").isArmed(at: .afterDatabaseCommit))
    }

    @Test func passesBeforeTheNthDoNotCrash() {
        // Reaching an unarmed point, or an armed one fewer than n times, returns normally.
        let injection = FaultInjection("after_db_commit:1000")
        for _ in 0..<999 { injection.reached(.afterDatabaseCommit) }
        FaultInjection("after_publish:1").reached(.afterDatabaseCommit)
    }
}
