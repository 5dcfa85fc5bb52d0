import Attribution
import Foundation
import Inference
import Testing

/// The planted-facts task: its sizes, its contributors, and the rules its facts, questions,
/// mentions and distractors keep.
@Suite struct QualityPlantedFactsTests {
    static let task = PlantedFactsGenerator(seed: 1).task()
    static let askedTask = PlantedFactsGenerator(seed: 1, askedPhrasing: true).task()

    /// Words a question may share with its fact's documents besides the subject and value.
    static let stopWords: Set<String> = ["q", "a", "the", "of", "is", "in", "on", "to", "from", "by", "for", "with", "and",
                                         "which", "what", "who", "when", "where", "does", "do", "was", "its"]

    static func words(_ text: String) -> Set<String> { Set(BM25.terms(of: text)) }
    static func subject(of query: AttributionQuery) -> String { String(query.label.split(separator: ": ", maxSplits: 1)[1]) }

    @Test func sizesAndContributors() throws {
        let task = Self.task
        #expect(task.name == "planted-facts")
        #expect(task.queries.count == 60)
        #expect(task.documents.count == 60 * 3 + 60 * 2 + 1_000)
        #expect(Set(task.documentIDs).count == task.documents.count, "document ids are unique")
        #expect(Set(task.queries.map(\.id)).count == task.queries.count, "query ids are unique")
        #expect(Set(task.queries.map { Self.subject(of: $0) }).count == 60, "every fact has its own subject")
        let contributors = task.documents.compactMap(\.contributor)
        #expect(contributors.count == task.documents.count, "every document has a contributor")
        #expect(Set(contributors).count == 6)
        for query in task.queries {
            #expect(query.relevant.count == 3)
            #expect(query.prompt.hasPrefix("Q: ") && query.prompt.hasSuffix("?\nA:"))
            #expect(query.completion.hasPrefix(" ") && query.completion.count > 1)
        }
        // Facts spread over contributors: not every fact's three documents come from one.
        let byID = Dictionary(uniqueKeysWithValues: task.documents.map { ($0.id, $0) })
        let mixed = task.queries.filter { Set($0.relevant.map { byID[$0]!.contributor! }).count > 1 }
        #expect(mixed.count > 30)
        // Facts are scattered through the datanet, not kept together.
        let positions = Dictionary(uniqueKeysWithValues: task.documentIDs.enumerated().map { ($1, $0) })
        let factPositions = task.queries.flatMap { $0.relevant.map { positions[$0]! } }.sorted()
        #expect(factPositions.first! < 100 && factPositions.last! > task.documents.count - 100)

        let other = PlantedFactsGenerator(seed: 1, factCount: 50, distractorCount: 1_200, mentionsPerFact: 0, contributorCount: 3).task()
        #expect(other.queries.count == 50 && other.documents.count == 50 * 3 + 1_200)
        #expect(Set(other.documents.compactMap(\.contributor)).count == 3)
    }

    /// Each fact document names the subject and the value; the question names the subject and
    /// shares no other word with the fact's documents except stop words.
    @Test(arguments: [false, true]) func questionsAreParaphrases(askedPhrasing: Bool) throws {
        let task = askedPhrasing ? Self.askedTask : Self.task
        let byID = Dictionary(uniqueKeysWithValues: task.documents.map { ($0.id, $0.text) })
        for query in task.queries {
            let subject = Self.words(Self.subject(of: query))
            let value = Self.words(query.completion)
            let question = Self.words(query.prompt)
            #expect(subject.isSubset(of: question), "\(query.id) names its subject")
            #expect(value.isDisjoint(with: question), "\(query.id) does not give its answer away")
            for id in query.relevant {
                let document = Self.words(byID[id]!)
                #expect(subject.isSubset(of: document) && value.isSubset(of: document), "\(byID[id]!) states \(query.label)")
                let shared = question.intersection(document).subtracting(subject).subtracting(Self.stopWords)
                #expect(shared.isEmpty, "\(query.id) shares \(shared.sorted()) with \(byID[id]!)")
            }
            let phrasings = query.relevant.map { byID[$0]! }
            #expect(Set(phrasings.map { $0.replacingOccurrences(of: Self.subject(of: query), with: "") }).count == 3, "three phrasings")
        }
    }

    /// A subject's name appears only in its three fact documents and its two mentions, and no
    /// mention holds the value; the other thousand documents name no subject at all.
    @Test(arguments: [false, true]) func mentionsAndDistractorsDoNotStateFacts(askedPhrasing: Bool) throws {
        let task = askedPhrasing ? Self.askedTask : Self.task
        let documentWords = task.documents.map { Self.words($0.text) }
        var namingASubject = Set<Int>()
        for query in task.queries {
            let subject = Self.words(Self.subject(of: query)), value = Self.words(query.completion)
            let naming = documentWords.indices.filter { subject.isSubset(of: documentWords[$0]) }
            #expect(naming.count == 5, "\(query.label) is named in \(naming.count) documents")
            for index in naming where !query.relevant.contains(task.documents[index].id) {
                #expect(value.isDisjoint(with: documentWords[index]), "mention \(task.documents[index].text) gives away \(query.completion)")
            }
            namingASubject.formUnion(naming)
        }
        #expect(task.documents.count - namingASubject.count == 1_000)
        // Values that are ordinary words also occur in unrelated documents, as they would in real text.
        let distractorWords = documentWords.indices.filter { !namingASubject.contains($0) }.reduce(into: Set<String>()) { $0.formUnion(documentWords[$1]) }
        #expect(task.queries.filter { Self.words($0.completion).isSubset(of: distractorWords) }.count >= 25)
    }

    /// Documents are short: one to three sentences, at most 40 words, and at most 64 tokens of
    /// the default model; a question with its answer fits the same bound.
    @Test func documentsAreShort() throws {
        let tokenizer = try DefaultModelFile.tokenizer()
        var longest = 0
        for document in Self.task.documents {
            let sentences = document.text.split(whereSeparator: { ".?!".contains($0) }).filter { !$0.allSatisfy(\.isWhitespace) }
            #expect((1...3).contains(sentences.count), "\(document.text)")
            #expect(Self.words(document.text).count <= 40)
            longest = max(longest, tokenizer.encode(document.text, parsingSpecialTokens: false).count)
        }
        #expect(longest <= 64, "longest document: \(longest) tokens")
        for query in Self.task.queries {
            #expect(tokenizer.encode(query.text, parsingSpecialTokens: false).count <= 64)
        }
    }

    /// Answered facts add their statements, mentions and one question/answer document each,
    /// and no query; the queried facts keep three statements each, and no answered fact
    /// shares a subject with a queried one.
    @Test func answeredFactsAreAskedAndAnsweredInTheDatanet() throws {
        let task = PlantedFactsGenerator(seed: 1, answeredFactCount: 60).task()
        #expect(task.queries.count == 60)
        #expect(task.documents.count == 60 * 3 + 60 * 2 + 60 * (3 + 2 + 1) + 1_000)
        #expect(Set(task.documentIDs).count == task.documents.count, "document ids are unique")
        let pairs = task.documents.compactMap { document -> (prompt: String, completion: String)? in
            guard case let .promptCompletion(prompt, completion) = document.content else { return nil }
            return (prompt, completion)
        }
        #expect(pairs.count == 60)
        let asked = Set(task.queries.map(\.prompt))
        for pair in pairs {
            #expect(pair.prompt.hasPrefix("Q: ") && pair.prompt.hasSuffix("?\nA:") && pair.completion.hasPrefix(" "))
            #expect(!asked.contains(pair.prompt), "\(pair.prompt) is not a query")
            let statements = task.documents.filter { document in
                guard case .text = document.content else { return false }
                return Self.words(pair.completion).isSubset(of: Self.words(document.text))
            }
            #expect(!statements.isEmpty, "the answer \(pair.completion) is stated in the datanet")
        }
        let queriedSubjects = Set(task.queries.map { Self.subject(of: $0) })
        let answeredSubjects = Set(pairs.map { pair in queriedSubjects.first { Self.words($0).isSubset(of: Self.words(pair.prompt)) } })
        #expect(answeredSubjects == [nil], "no question/answer document asks about a queried subject")
    }

    /// Under the asked phrasing each fact's third document answers its asked question with
    /// the value, on the same subjects and queries as the plain task; one mention per fact
    /// and about a quarter of the distractors are answers too, so the form alone points at
    /// no fact.
    @Test func askedPhrasingAnswersOneQuestionPerFact() throws {
        let (plain, asked) = (Self.task, Self.askedTask)
        #expect(asked.documents.count == plain.documents.count)
        #expect(asked.queries.map(\.prompt) == plain.queries.map(\.prompt) && asked.queries.map(\.completion) == plain.queries.map(\.completion))
        let byID = Dictionary(uniqueKeysWithValues: asked.documents.map { ($0.id, $0) })
        var factAnswers = Set<String>()
        for query in asked.queries {
            let answers = query.relevant.compactMap { id -> (prompt: String, completion: String)? in
                guard case let .promptCompletion(prompt, completion) = byID[id]!.content else { return nil }
                return (prompt, completion)
            }
            #expect(answers.count == 1, "\(query.id): one of three phrasings is a question and its answer")
            guard let answer = answers.first else { continue }
            #expect(answer.completion == query.completion && answer.prompt != query.prompt)
            #expect(answer.prompt.hasPrefix("Q: ") && answer.prompt.hasSuffix("?\nA:"))
            #expect(Self.words(Self.subject(of: query)).isSubset(of: Self.words(answer.prompt)))
            factAnswers.formUnion(query.relevant)
        }
        let others = asked.documents.filter { document in
            guard case .promptCompletion = document.content else { return false }
            return !factAnswers.contains(document.id)
        }
        let mentions = others.filter { document in asked.queries.contains { Self.words(Self.subject(of: $0)).isSubset(of: Self.words(document.text)) } }
        #expect(mentions.count == 60, "one mention per fact is an answer")
        #expect((200...300).contains(others.count - mentions.count), "\(others.count - mentions.count) of 1,000 distractors are answers")
    }
}
