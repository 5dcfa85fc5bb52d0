import Inference

/// DataInf's "sentence transformations" task, rebuilt with made-up names: ten classes
/// (`SentenceTransformation`), each an assistant with a made-up name that rewrites sentences
/// one way. Every class transforms the same pool of invented sentences: the first
/// `trainingPerClass` are its training documents, the next `queriesPerClass` its held-out
/// queries, so the input sentence alone never tells the class (as in DataInf, where 90 of 100
/// phrases train and 10 are held out).
///
/// A document is the plain text of an example, as DataInf trains on its `text` field:
///
///     <Name> rewrites sentences: <instruction>.
///     Sentence: <sentence>
///     Rewritten: <transformed sentence>
///
/// A query is the same example on a held-out sentence, split after `Rewritten:` into its
/// prompt and completion, and attributed whole (`QueryLoss.wholeText`, DataInf's protocol);
/// its relevant documents are its class's. Documents come from `contributorCount`
/// contributors and are shuffled together.
public struct SentenceTransformationsGenerator: Sendable {
    public static let taskName = "sentence-transformations"

    public var seed: UInt64
    public var trainingPerClass: Int
    public var queriesPerClass: Int
    public var contributorCount: Int

    public init(seed: UInt64, trainingPerClass: Int = 90, queriesPerClass: Int = 10, contributorCount: Int = 4) {
        self.seed = seed
        self.trainingPerClass = trainingPerClass
        self.queriesPerClass = queriesPerClass
        self.contributorCount = contributorCount
    }

    private static let adjectives = ["quiet", "bright", "ancient", "gentle", "restless", "hollow", "golden", "frozen", "silver",
                                     "weary", "distant", "hidden", "wild", "humble", "bitter", "tender", "crooked", "swift"]
    private static let subjects = ["foxes", "rivers", "lanterns", "sailors", "orchards", "bells", "shadows", "meadows", "ravens",
                                   "candles", "travellers", "storms", "gardens", "kettles", "children", "mountains", "letters", "clouds"]
    private static let verbs = ["cross", "follow", "guard", "remember", "carry", "greet", "outlast", "wake", "hide", "chase",
                                "gather", "shelter", "mend", "welcome", "circle", "praise"]
    private static let objects = ["bridges", "towns", "roads", "fences", "harbours", "stairs", "valleys", "windows", "wells",
                                  "markets", "mornings", "towers"]
    private static let vocabulary = TemplateSlots.vocabulary(adjectives + subjects + verbs + objects
        + SentenceTransformation.allCases.map(\.instruction) + ["rewrites sentences", "Sentence", "Rewritten"])

    /// The task: same seed and sizes, same documents in the same order, same queries.
    public func task() -> AttributionTask {
        precondition(trainingPerClass >= 1 && queriesPerClass >= 1 && contributorCount >= 1, "sizes must be positive")
        let sentenceCount = trainingPerClass + queriesPerClass
        precondition(sentenceCount <= Self.adjectives.count * Self.subjects.count * Self.verbs.count * Self.objects.count,
                     "more sentences than the word lists can make")
        var sentenceDraws = SeededDraws(seed: seed, stream: 0x200 + 1)
        var sentences: [String] = []
        var seen: Set<String> = []
        while sentences.count < sentenceCount {
            let words = [sentenceDraws.element(of: Self.adjectives), sentenceDraws.element(of: Self.subjects),
                         sentenceDraws.element(of: Self.verbs), sentenceDraws.element(of: Self.objects)]
            let sentence = words.joined(separator: " ").prefix(1).uppercased() + words.joined(separator: " ").dropFirst() + "."
            if seen.insert(sentence).inserted { sentences.append(sentence) }
        }

        var names = InventedNames(seed: seed, stream: 0x200 + 2, reserved: Self.vocabulary)
        var contributorDraws = SeededDraws(seed: seed, stream: 0x200 + 3)
        let contributors = (0..<contributorCount).map { _ in contributorDraws.address() }
        var draws = SeededDraws(seed: seed, stream: 0x200 + 4)

        var documents: [DatanetDocument] = []
        var queries: [AttributionQuery] = []
        for transformation in SentenceTransformation.allCases {
            let name = names.next()
            func prompt(_ sentence: String) -> String {
                "\(name) rewrites sentences: \(transformation.instruction).\nSentence: \(sentence)\nRewritten:"
            }
            let training = sentences.prefix(trainingPerClass).map { sentence in
                DatanetDocument(text: prompt(sentence) + " " + transformation.apply(sentence),
                                contributor: draws.element(of: contributors))
            }
            documents += training
            let relevant = Set(training.map(\.id))
            for (number, sentence) in sentences.suffix(queriesPerClass).enumerated() {
                queries.append(AttributionQuery(id: "\(transformation.rawValue)-\(number)", label: transformation.rawValue,
                                                prompt: prompt(sentence), completion: " " + transformation.apply(sentence),
                                                relevant: relevant))
            }
        }
        var order = SeededDraws(seed: seed, stream: 0x200 + 5)
        order.shuffle(&documents)
        return AttributionTask(name: Self.taskName, documents: documents, queries: queries, queryLoss: .wholeText)
    }
}
