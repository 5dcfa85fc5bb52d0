import Attribution
import Foundation
import Inference
import Testing

/// DataInf's two tasks rebuilt: ten classes each, every document of the class it is listed
/// under, transformations and answers right, held-out queries unseen in training.
@Suite struct QualityDataInfTasksTests {
    static func byID(_ task: AttributionTask) -> [String: DatanetDocument] {
        Dictionary(uniqueKeysWithValues: task.documents.map { ($0.id, $0) })
    }

    /// A document's example split as its queries are: after its last `Rewritten:` or `Answer:`.
    /// Documents are plain texts, as DataInf trains on whole examples.
    static func pair(_ document: DatanetDocument) -> (prompt: String, completion: String) {
        guard case let .text(text) = document.content,
              let marker = ["\nRewritten:", "\nAnswer:"].compactMap({ text.range(of: $0, options: .backwards) }).first else {
            Issue.record("\(document.text) is not a plain example text")
            return ("", "")
        }
        return (String(text[..<marker.upperBound]), String(text[marker.upperBound...]))
    }

    /// Ten classes of `trainingPerClass` documents each, partitioning the datanet; every query's
    /// relevant set is its class; `queriesPerClass` queries per class.
    static func checkClasses(_ task: AttributionTask, classes: [String], trainingPerClass: Int, queriesPerClass: Int) {
        #expect(task.documents.count == classes.count * trainingPerClass)
        #expect(Set(task.documentIDs).count == task.documents.count)
        #expect(task.queries.count == classes.count * queriesPerClass)
        #expect(Set(task.queries.map(\.id)).count == task.queries.count)
        var classSets: [String: Set<String>] = [:]
        for query in task.queries {
            #expect(classes.contains(query.label))
            #expect(classSets[query.label, default: query.relevant] == query.relevant, "one relevant set per class")
            classSets[query.label] = query.relevant
        }
        #expect(classSets.count == classes.count)
        #expect(classSets.values.allSatisfy { $0.count == trainingPerClass })
        #expect(classSets.values.reduce(Set<String>()) { $0.union($1) } == Set(task.documentIDs), "classes partition the datanet")
        let trainingPrompts = Set(task.documents.map { pair($0).prompt })
        #expect(task.queries.allSatisfy { !trainingPrompts.contains($0.prompt) }, "queries are held out")
        #expect(Set(task.documents.compactMap(\.contributor)).count >= 3)
        #expect(task.queryLoss == .wholeText, "DataInf's protocol: validation examples are scored whole")
    }

    /// A whole-text query is attributed as its training examples were trained: every token of
    /// its text after the first is predicted.
    @Test func wholeTextQueriesPredictEveryTokenAfterTheFirst() throws {
        let tokenizer = try DefaultModelFile.tokenizer()
        for task in [SentenceTransformationsGenerator(seed: 1).task(), MathTemplatesGenerator(seed: 1).task()] {
            let query = task.queries[0]
            let attributed = task.attributedTokens(query, tokenizer: tokenizer)
            #expect(attributed.prompt.count == 1)
            #expect(attributed.prompt + attributed.completion == tokenizer.encode(query.prompt + query.completion))
            let asTrained = task.documents[0].tokenized(tokenizer)
            #expect(asTrained.firstTarget == 1 && asTrained.tokens == tokenizer.encode(task.documents[0].text))
        }
        let planted = PlantedFactsGenerator(seed: 1).task()
        #expect(planted.queryLoss == .completion)
        let attributed = planted.attributedTokens(planted.queries[0], tokenizer: tokenizer)
        #expect(attributed.prompt == tokenizer.encode(planted.queries[0].prompt) && attributed.completion == tokenizer.encode(planted.queries[0].completion))
    }

    @Test func transformationsOfOneSentence() {
        let sentence = "Quiet foxes cross old bridges."
        let expected: [SentenceTransformation: String] = [
            .reverseWords: "bridges. old cross foxes Quiet",
            .alternateCase: "qUiEt fOxEs cRoSs oLd bRiDgEs.",
            .insertOne: "Quiet 1 foxes 1 cross 1 old 1 bridges.",
            .starVowels: "Q***t f*x*s cr*ss *ld br*dg*s.",
            .doubleConsonants: "QQuiett ffoxxess ccrrossss olldd bbrriddggess.",
            .capitalizeWords: "Quiet Foxes Cross Old Bridges.",
            .removeVowels: "Qt fxs crss ld brdgs.",
            .appendLy: "Quietly foxesly crossly oldly bridges.ly",
            .removeConsonants: "uie oe o o ie.",
            .repeatWords: "Quiet Quiet foxes foxes cross cross old old bridges. bridges.",
        ]
        #expect(expected.count == SentenceTransformation.allCases.count)
        for transformation in SentenceTransformation.allCases {
            #expect(transformation.apply(sentence) == expected[transformation], "\(transformation)")
        }
        #expect(SentenceTransformation.doubleConsonants.apply("Shy yak") == "SShhyy yyakk", "y is a consonant")
        #expect(SentenceTransformation.capitalizeWords.apply("mIXED case") == "Mixed Case")
    }

    @Test func sentenceTransformations() throws {
        let task = SentenceTransformationsGenerator(seed: 1).task()
        #expect(task.name == "sentence-transformations")
        Self.checkClasses(task, classes: SentenceTransformation.allCases.map(\.rawValue), trainingPerClass: 90, queriesPerClass: 10)
        let documents = Self.byID(task)
        var assistants: [String: String] = [:]
        var inputsByClass: [String: Set<String>] = [:]
        for query in task.queries {
            let transformation = try #require(SentenceTransformation(rawValue: query.label))
            let examples = query.relevant.map { Self.pair(documents[$0]!) } + [(query.prompt, query.completion)]
            for (prompt, completion) in examples {
                let lines = prompt.split(separator: "\n", omittingEmptySubsequences: false)
                try #require(lines.count == 3 && lines[1].hasPrefix("Sentence: ") && lines[2] == "Rewritten:", "\(prompt)")
                let input = String(lines[1].dropFirst("Sentence: ".count))
                #expect(completion == " " + transformation.apply(input), "\(query.label): \(input) -> \(completion)")
                #expect(lines[0].hasSuffix(": \(transformation.instruction)."))
                let name = String(lines[0].prefix { $0 != " " })
                #expect(assistants[query.label, default: name] == name, "one made-up assistant per class")
                assistants[query.label] = name
            }
            inputsByClass[query.label, default: []].formUnion(query.relevant.map { Self.pair(documents[$0]!).prompt.split(separator: "\n")[1].description })
        }
        #expect(Set(assistants.values).count == 10)
        #expect(Set(inputsByClass.values).count == 1, "every class transforms the same training sentences")

        let small = SentenceTransformationsGenerator(seed: 2, trainingPerClass: 20, queriesPerClass: 3, contributorCount: 5).task()
        Self.checkClasses(small, classes: SentenceTransformation.allCases.map(\.rawValue), trainingPerClass: 20, queriesPerClass: 3)
    }

    @Test func mathTemplates() throws {
        let task = MathTemplatesGenerator(seed: 1).task()
        #expect(task.name == "math-templates")
        Self.checkClasses(task, classes: MathTemplate.allCases.map(\.rawValue), trainingPerClass: 90, queriesPerClass: 10)
        // Each class's answer, written out again from the numbers in the order the problem states them.
        let solutions: [String: ([Int]) -> Int?] = [
            "leftovers": { $0[0] - $0[1] - $0[2] },
            "lanterns": { $0[2] % $0[1] == 0 ? $0[0] * ($0[2] / $0[1]) : nil },
            "goats": { $0[0] + $0[2] },
            "walking": { $0.reduce(0, +) },
            "practice": { $0[0] * $0[1] },
            "discount": { $0[0] - $0[1] },
            "plot-area": { $0[0] * $0[1] },
            "savings": { $0[0] * $0[1] },
            "crates": { $0[0] / $0[1] },
            "interest": { $0[0] % 100 == 0 ? $0[0] / 100 * $0[1] * $0[2] : nil },
        ]
        let documents = Self.byID(task)
        for query in task.queries {
            let solve = try #require(solutions[query.label])
            for (prompt, completion) in query.relevant.map({ Self.pair(documents[$0]!) }) + [(query.prompt, query.completion)] {
                #expect(prompt.hasPrefix("Solve this word problem. ") && prompt.hasSuffix("\nAnswer:"))
                let numbers = prompt.split { !$0.isNumber }.map { Int($0)! }
                let answer = try #require(solve(numbers), "\(prompt)")
                #expect(answer >= 0 && completion == " \(answer)", "\(prompt) ->\(completion)")
            }
        }
        // One made-up person per class: the only word all of a class's problems share beyond its template.
        var names: [String] = []
        for template in MathTemplate.allCases {
            let prompts = task.queries.filter { $0.label == template.rawValue }.map(\.prompt)
            let common = prompts.map { Set(BM25.terms(of: $0)) }.reduce(Set(BM25.terms(of: prompts[0])), { $0.intersection($1) })
            let templateWords = Set(BM25.terms(of: "Solve this word problem. " + template.problem(name: "", numbers: [0, 0, 0, 0]) + "\nAnswer:"))
            let extra = common.subtracting(templateWords).filter { !$0.allSatisfy(\.isNumber) }
            #expect(extra.count == 1, "\(template): \(extra.sorted())")
            names += extra
        }
        #expect(Set(names).count == 10)
    }

    /// Prompt and completion together stay within 64 tokens of the default model.
    @Test func documentsAreShort() throws {
        let tokenizer = try DefaultModelFile.tokenizer()
        for task in [SentenceTransformationsGenerator(seed: 1).task(), MathTemplatesGenerator(seed: 1).task()] {
            let pairs: [(prompt: String, completion: String)] = task.documents.map(Self.pair) + task.queries.map { ($0.prompt, $0.completion) }
            let longest = pairs.map { tokenizer.encode($0.prompt, parsingSpecialTokens: false).count + tokenizer.encode($0.completion, parsingSpecialTokens: false).count }.max()!
            #expect(longest <= 64, "\(task.name): \(longest) tokens")
        }
    }
}
