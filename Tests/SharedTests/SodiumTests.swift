import Testing

@testable import Platform

@Suite struct SodiumTests {
    @Test func hmacMatchesRFC4231TestCase2() {
        let mac = Sodium.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(mac.hexString == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func sha256MatchesTheFIPSVector() {
        #expect(
            Sodium.sha256(Array("abc".utf8)).hexString
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Sodium.sha256([]).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func sealedDataOpensOnlyWithItsKeyAndContext() throws {
        let key = Sodium.randomBytes(32)
        let sealed = Sodium.seal(Array("token 123".utf8), key: key, associatedData: Array("inbox:a".utf8))
        #expect(sealed.count == 24 + 9 + 16)
        #expect(
            try #require(Sodium.open(sealed, key: key, associatedData: Array("inbox:a".utf8)))
                == Array("token 123".utf8))
        #expect(Sodium.open(sealed, key: key, associatedData: Array("inbox:b".utf8)) == nil)
        #expect(Sodium.open(sealed, key: Sodium.randomBytes(32), associatedData: Array("inbox:a".utf8)) == nil)
        var tampered = sealed
        tampered[30] ^= 1
        #expect(Sodium.open(tampered, key: key, associatedData: Array("inbox:a".utf8)) == nil)
        #expect(Sodium.seal([], key: key, associatedData: []) != Sodium.seal([], key: key, associatedData: []))
    }

    @Test func argon2idHashesVerifyAndCarryTheParameters() throws {
        let hash = try #require(Sodium.passwordHash("correct horse", memoryKiB: 19_456, iterations: 2))
        #expect(hash.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        #expect(Sodium.passwordVerify("correct horse", hash: hash))
        #expect(!Sodium.passwordVerify("correct horsE", hash: hash))
        #expect(!Sodium.passwordVerify("", hash: hash))
        #expect(hash != Sodium.passwordHash("correct horse", memoryKiB: 19_456, iterations: 2))
    }

    @Test func randomBytesDiffer() {
        #expect(Sodium.randomBytes(16) != Sodium.randomBytes(16))
        #expect(Sodium.randomBytes(0).isEmpty)
        #expect((0..<1000).allSatisfy { _ in Sodium.randomUniform(10) < 10 })
        #expect(Sodium.constantTimeEqual([1, 2], [1, 2]))
        #expect(!Sodium.constantTimeEqual([1, 2], [1, 3]))
        #expect(!Sodium.constantTimeEqual([1, 2], [1]))
    }
}
