import Platform
import Testing

@testable import IdentityCore

@Suite struct SecretsTests {
    @Test func smsCodesHaveTheLengthAndOnlyDigits() {
        for length in [1, 4, 6, 8] {
            for _ in 0..<100 {
                let code = SecretCodes.smsCode(length: length)
                #expect(code.count == length)
                #expect(code.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
            }
        }
        #expect(SecretCodes.smsCode(length: 0).isEmpty)
    }

    @Test func everyDigitPositionIsRoughlyUniform() {
        let samples = 10_000
        let length = Policy().sms.codeLength
        var counts = Array(repeating: Array(repeating: 0, count: 10), count: length)
        var leadingZeros = 0
        for _ in 0..<samples {
            let code = SecretCodes.smsCode(length: length)
            for (position, byte) in code.utf8.enumerated() { counts[position][Int(byte - UInt8(ascii: "0"))] += 1 }
            if code.hasPrefix("0") { leadingZeros += 1 }
        }
        for (position, row) in counts.enumerated() {
            for (digit, count) in row.enumerated() {
                let share = Double(count) / Double(samples)
                #expect(abs(share - 0.1) <= 0.015, "position \(position), digit \(digit): \(share)")
            }
        }
        // Leading zeros are kept (the code is a string, not a number).
        #expect(leadingZeros > 0)
    }

    @Test func keyedHashIsHMACSHA256() {
        // RFC 4231 test case 2.
        #expect(
            SecretCodes.keyedHash("what do ya want for nothing?", key: Array("Jefe".utf8)).hexString
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(SecretCodes.keyedHash("123456", key: [1]) != SecretCodes.keyedHash("123456", key: [2]))
    }

    @Test func tokensAre64LowercaseHexCharactersAndUnique() {
        let tokens = (0..<1000).map { _ in SecretCodes.newToken() }
        #expect(Set(tokens).count == tokens.count)
        for token in tokens {
            #expect(token.count == 64)
            #expect(token.allSatisfy { "0123456789abcdef".contains($0) })
        }
    }

    @Test func tokenHashIsSHA256OfTheUTF8() {
        #expect(
            SecretCodes.tokenHash("abc").hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )
        let token = SecretCodes.newToken()
        #expect(SecretCodes.tokenHash(token) == Sodium.sha256(Array(token.utf8)))
        #expect(SecretCodes.tokenHash(token).count == 32)
    }
}
