import Inference

/// DataInf's "math templates" task, rebuilt with made-up names: ten classes (`MathTemplate`),
/// each a word-problem shape about its own made-up person; `trainingPerClass` training
/// documents and `queriesPerClass` held-out queries per class (DataInf: 90 and 10), every one
/// with its own numbers and no text repeated.
///
/// A document is the plain text `Solve this word problem. <problem>\nAnswer: <answer>`, as
/// DataInf trains on its `text` field; a query is a held-out example split after `Answer:`
/// into its prompt and completion, attributed whole (`QueryLoss.wholeText`, DataInf's
/// protocol), and its relevant documents are its class's. Documents come from
/// `contributorCount` contributors and are shuffled together.
public struct MathTemplatesGenerator: Sendable {
    public static let taskName = "math-templates"

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

    private static let vocabulary = TemplateSlots.vocabulary(
        MathTemplate.allCases.map { $0.problem(name: "", numbers: [0, 0, 0, 0]) } + ["Solve this word problem", "Answer"])

    /// The prompt of a problem.
    static func prompt(_ problem: String) -> String { "Solve this word problem. \(problem)\nAnswer:" }

    /// The task: same seed and sizes, same documents in the same order, same queries.
    public func task() -> AttributionTask {
        precondition(trainingPerClass >= 1 && queriesPerClass >= 1 && contributorCount >= 1, "sizes must be positive")
        precondition(trainingPerClass + queriesPerClass <= 300, "at most 300 problems per class (the fewest any template can make is 704)")
        var names = InventedNames(seed: seed, stream: 0x300 + 1, reserved: Self.vocabulary)
        var contributorDraws = SeededDraws(seed: seed, stream: 0x300 + 2)
        let contributors = (0..<contributorCount).map { _ in contributorDraws.address() }
        var draws = SeededDraws(seed: seed, stream: 0x300 + 3)

        var documents: [DatanetDocument] = []
        var queries: [AttributionQuery] = []
        for template in MathTemplate.allCases {
            let name = names.next()
            var problems: [(prompt: String, completion: String)] = []
            var seen: Set<String> = []
            while problems.count < trainingPerClass + queriesPerClass {
                let numbers = template.drawNumbers(&draws)
                let prompt = Self.prompt(template.problem(name: name, numbers: numbers))
                if seen.insert(prompt).inserted { problems.append((prompt, " \(template.answer(numbers))")) }
            }
            let training = problems.prefix(trainingPerClass).map {
                DatanetDocument(text: $0.prompt + $0.completion, contributor: draws.element(of: contributors))
            }
            documents += training
            let relevant = Set(training.map(\.id))
            for (number, problem) in problems.suffix(queriesPerClass).enumerated() {
                queries.append(AttributionQuery(id: "\(template.rawValue)-\(number)", label: template.rawValue,
                                                prompt: problem.prompt, completion: problem.completion, relevant: relevant))
            }
        }
        var order = SeededDraws(seed: seed, stream: 0x300 + 4)
        order.shuffle(&documents)
        return AttributionTask(name: Self.taskName, documents: documents, queries: queries, queryLoss: .wholeText)
    }
}
