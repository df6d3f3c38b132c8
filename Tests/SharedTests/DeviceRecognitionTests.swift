import Contract
import Testing

@Suite struct DeviceRecognitionTests {
    let stored = Dictionary(uniqueKeysWithValues: (0..<20).map { ("a\($0)", "v\($0)") })

    /// `stored` with the first `changed` values altered.
    func presented(changing changed: Int) -> [String: String] {
        stored.reduce(into: [:]) { result, entry in
            let index = Int(entry.key.dropFirst())!
            result[entry.key] = index < changed ? "x" : entry.value
        }
    }

    @Test func similarityIsMatchesOverTheStoredAttributes() {
        #expect(DeviceRecognition.similarity(presented: stored, stored: stored) == 1)
        #expect(DeviceRecognition.similarity(presented: presented(changing: 8), stored: stored) == 0.6)
        var extended = stored
        extended["new"] = "attribute"
        #expect(DeviceRecognition.similarity(presented: extended, stored: stored) == 1)
        #expect(DeviceRecognition.similarity(presented: stored, stored: [:]) == 0)
    }

    @Test func recognitionStartsAtTheThreshold() {
        #expect(DeviceRecognition.isRecognised(similarity: 0.6, threshold: 0.6))
        #expect(!DeviceRecognition.isRecognised(similarity: 0.6.nextDown, threshold: 0.6))
        let atThreshold = DeviceRecognition.Candidate(id: "a", presented: presented(changing: 8), stored: stored)
        let below = DeviceRecognition.Candidate(id: "b", presented: presented(changing: 9), stored: stored)
        #expect(DeviceRecognition.bestMatch([below, atThreshold], threshold: 0.6) == atThreshold)
        #expect(DeviceRecognition.bestMatch([below], threshold: 0.6) == nil)
    }

    @Test func theMostSimilarWinsAndTiesGoToTheSmallestID() {
        let strong = DeviceRecognition.Candidate(id: "z", matchingAttributes: 19, storedAttributes: 20)
        let weak = DeviceRecognition.Candidate(id: "a", matchingAttributes: 13, storedAttributes: 20)
        #expect(DeviceRecognition.bestMatch([weak, strong], threshold: 0.6) == strong)
        let twin = DeviceRecognition.Candidate(id: "b", matchingAttributes: 38, storedAttributes: 40)
        let first = DeviceRecognition.Candidate(id: "c", matchingAttributes: 19, storedAttributes: 20)
        #expect(DeviceRecognition.bestMatch([first, twin], threshold: 0.6) == twin)
        #expect(DeviceRecognition.bestMatch([], threshold: 0.6) == nil)
    }
}
