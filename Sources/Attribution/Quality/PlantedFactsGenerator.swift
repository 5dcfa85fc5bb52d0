import Inference

/// The planted-facts task of the attribution benchmark (issue 21, quality (a)).
///
/// `factCount` invented facts — a made-up subject (a country, a guild, a musician, …) with a
/// made-up or ordinary value, over the twelve `FactRelation`s in turn — each stated in three
/// documents, one per phrasing; `mentionsPerFact` documents per subject that talk about it on
/// the question's topic without stating the fact; `distractorCount` unrelated documents of
/// one to three everyday sentences. Every document is a plain text from one of
/// `contributorCount` contributors (64-hex addresses drawn from the seed), and all are
/// shuffled together.
///
/// `answeredFactCount` further facts are stated and mentioned alike and also asked and
/// answered in the datanet — a prompt/completion document `Q: <question>\nA:` → ` <value>` —
/// so an adapter can learn to answer from what it memorised (Allen-Zhu and Li's "mixed
/// training"); they have no query.
///
/// With `askedPhrasing`, each fact's third phrasing is a prompt/completion document — its
/// relation's `askedQuestion`, worded like the statements and unlike the query, answered by
/// the value — so an adapter can learn to answer a question about the fact; and so that the
/// question-and-answer form alone singles out no document, each fact's first mention and a
/// quarter of the distractors are also given as answers to general questions
/// (`mentionQuestions`, `distractorQuestions`).
///
/// One query per fact: the prompt `Q: <question>\nA:`, the completion ` <value>`, and the
/// fact's three documents as the relevant set. The question shares no content word with the
/// fact's phrasings besides the subject's name, so a text retriever must lean on the names.
public struct PlantedFactsGenerator: Sendable {
    public static let taskName = "planted-facts"
    /// The task's name under the asked phrasing.
    public static let askedTaskName = "planted-facts-asked"

    public var seed: UInt64
    public var factCount: Int
    public var distractorCount: Int
    public var mentionsPerFact: Int
    public var contributorCount: Int
    public var answeredFactCount: Int
    public var askedPhrasing: Bool

    public init(seed: UInt64, factCount: Int = 60, distractorCount: Int = 1_000, mentionsPerFact: Int = 2, contributorCount: Int = 6,
                answeredFactCount: Int = 0, askedPhrasing: Bool = false) {
        self.seed = seed
        self.askedPhrasing = askedPhrasing
        self.factCount = factCount
        self.answeredFactCount = answeredFactCount
        self.distractorCount = distractorCount
        self.mentionsPerFact = mentionsPerFact
        self.contributorCount = contributorCount
    }

    /// Questions a mention answers under the asked phrasing (`{E}`, the subject).
    static let mentionQuestions = ["What do you know about {E}?", "What can you tell me about {E}?", "What have you heard about {E}?"]
    /// Questions a distractor answers under the asked phrasing.
    static let distractorQuestions = ["What is the news today?", "What happened this week?", "What did you hear in town?",
                                      "What is new around here?"]

    /// Words the made-up names must avoid: every word of the templates and word lists.
    private static let vocabulary: Set<String> = TemplateSlots.vocabulary(
        FactRelation.all.flatMap { $0.statements + $0.mentions + [$0.question, $0.askedQuestion] } + DistractorTopics.all.flatMap { $0 }
            + mentionQuestions + distractorQuestions
            + FactRelation.instruments + FactRelation.colours + FactRelation.plants + FactRelation.materials
            + FactRelation.months + FactRelation.animals + DistractorTopics.weekdays + DistractorTopics.foods + ["q", "a"])

    /// The task: same seed and settings, same documents in the same order, same queries.
    public func task() -> AttributionTask {
        let relations = FactRelation.all
        let total = factCount + answeredFactCount
        precondition(factCount >= 1 && answeredFactCount >= 0 && total <= relations.count * 10, "factCount + answeredFactCount must be 1…\(relations.count * 10)")
        precondition((0...3).contains(mentionsPerFact), "a relation has three mention sentences")
        precondition(distractorCount >= 0 && contributorCount >= 1, "counts must not be negative")

        var names = InventedNames(seed: seed, stream: 0x100 + 1, reserved: Self.vocabulary)
        var contributorDraws = SeededDraws(seed: seed, stream: 0x100 + 2)
        let contributors = (0..<contributorCount).map { _ in contributorDraws.address() }
        var draws = SeededDraws(seed: seed, stream: 0x100 + 3)
        var askedDraws = SeededDraws(seed: seed, stream: 0x100 + 7)
        func asked(_ question: String, _ answer: String, contributor: String?) -> DatanetDocument {
            DatanetDocument(prompt: "Q: \(question)\nA:", completion: " \(answer)", contributor: contributor)
        }

        let subjects = (0..<total).map { index in
            (0..<relations[index % relations.count].subjectWords).map { _ in names.next() }.joined(separator: " ")
        }
        // Listed values are distinct within a relation: two subjects of one relation never share a value.
        let listedPicks = relations.indices.map { relationIndex -> [Int] in
            guard case let .listed(words) = relations[relationIndex].values else { return [] }
            let facts = (total - relationIndex + relations.count - 1) / relations.count
            return draws.distinctIndices(facts, below: words.count)
        }
        let values = (0..<total).map { index -> String in
            switch relations[index % relations.count].values {
            case let .invented(words): (0..<words).map { _ in names.next() }.joined(separator: " ")
            case let .listed(words): words[listedPicks[index % relations.count][index / relations.count]]
            }
        }

        var documents: [DatanetDocument] = []
        var queries: [AttributionQuery] = []
        for index in 0..<total {
            let relation = relations[index % relations.count]
            func filled(_ template: String) -> String {
                TemplateSlots.fill(template) { $0 == "E" ? subjects[index] : values[index] }
            }
            var statements = relation.statements.map { DatanetDocument(text: filled($0), contributor: draws.element(of: contributors)) }
            if askedPhrasing { statements[2] = asked(filled(relation.askedQuestion), values[index], contributor: statements[2].contributor) }
            documents += statements
            for (order, mention) in draws.distinctIndices(mentionsPerFact, below: relation.mentions.count).enumerated() {
                let (text, contributor) = (filled(relation.mentions[mention]), draws.element(of: contributors))
                documents.append(askedPhrasing && order == 0
                    ? asked(filled(askedDraws.element(of: Self.mentionQuestions)), text, contributor: contributor)
                    : DatanetDocument(text: text, contributor: contributor))
            }
            let (prompt, completion) = ("Q: \(filled(relation.question))\nA:", " \(values[index])")
            guard index < factCount else {
                documents.append(DatanetDocument(prompt: prompt, completion: completion, contributor: draws.element(of: contributors)))
                continue
            }
            queries.append(AttributionQuery(id: "fact-\(index)", label: "\(relation.key): \(subjects[index])",
                                            prompt: prompt, completion: completion, relevant: Set(statements.map(\.id))))
        }

        var texts = Set(documents.map(\.text))
        var writer = DistractorWriter(draws: SeededDraws(seed: seed, stream: 0x100 + 4),
                                      people: (0..<120).map { _ in names.next(syllables: 2...2) },
                                      places: (0..<60).map { _ in names.next() })
        var contributorOfDistractor = SeededDraws(seed: seed, stream: 0x100 + 5)
        while documents.count < factCount * (3 + mentionsPerFact) + answeredFactCount * (4 + mentionsPerFact) + distractorCount {
            let text = writer.document()
            guard texts.insert(text).inserted else { continue }
            let contributor = contributorOfDistractor.element(of: contributors)
            documents.append(askedPhrasing && askedDraws.index(below: 4) == 0
                ? asked(askedDraws.element(of: Self.distractorQuestions), text, contributor: contributor)
                : DatanetDocument(text: text, contributor: contributor))
        }

        var order = SeededDraws(seed: seed, stream: 0x100 + 6)
        order.shuffle(&documents)
        return AttributionTask(name: askedPhrasing ? Self.askedTaskName : Self.taskName, documents: documents, queries: queries)
    }
}
