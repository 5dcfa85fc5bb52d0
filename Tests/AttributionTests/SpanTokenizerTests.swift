import Attribution
import Inference
import Testing

/// The span matcher over real text, tokenized by the default model's tokenizer.
@Suite struct SpanTokenizerTests {
    @Test func wordStartsOfTheDefaultVocabulary() throws {
        let tokenizer = try DefaultModelFile.tokenizer()
        let table = WordStarts.table(for: tokenizer)
        #expect(table.count == tokenizer.vocabularySize)
        func single(_ text: String) throws -> Int {
            let ids = tokenizer.encode(text)
            try #require(ids.count == 1, "\(text.debugDescription) is \(ids.count) tokens")
            return Int(ids[0])
        }
        for text in [" the", " blood", ".", ",", "\n", " ", "<|im_end|>", "(", "'s"] {
            #expect(try table[single(text)], "\(text.debugDescription) begins a word")
        }
        for text in ["the", "blood", "ing", "7"] {
            #expect(try !table[single(text)], "\(text.debugDescription) continues a word")
        }
        // About half the vocabulary carries its word's leading space or is punctuation.
        let share = Double(table.filter { $0 }.count) / Double(table.count)
        #expect(share > 0.3 && share < 0.9, "share of word starts \(share)")
    }

    /// `hybrid` reads the documents' words back from the span index's tokens: for every
    /// document of the benchmark's tasks they decode to the text BM25 indexes from the datanet,
    /// so the attributor's BM25 is the baseline's.
    @Test func spanIndexTokensDecodeToTheDocumentsText() throws {
        let tokenizer = try DefaultModelFile.tokenizer()
        for task in [PlantedFactsGenerator(seed: 1).task(), SentenceTransformationsGenerator(seed: 1).task(), MathTemplatesGenerator(seed: 1).task()] {
            let index = try SpanIndex(documents: task.documents.map { $0.tokenized(tokenizer).tokens })
            let decoded = (0..<index.documentCount).map { tokenizer.decodeText(index.tokens(ofDocument: $0)) }
            #expect(decoded == task.documents.map(BM25.searchableText), "\(task.name)")
        }
    }

    /// A completion repeating a clause of one document (with its own ending) gets that clause,
    /// from a word's start to a word's end, and the document; common short phrases shared with
    /// other documents stay below six tokens.
    @Test func findsAVerbatimClauseInRealText() throws {
        let tokenizer = try DefaultModelFile.tokenizer()
        let documents = [
            "Aspirin thins the blood and lowers the risk of a second heart attack.",
            "Everyone in the village says Zorblax the mountain goat only eats purple clover on Thursdays.",
            "The committee met on Tuesday to discuss the harbour's new lighthouse keeper.",
            "Purple clover grows on the northern slopes of the mountain in spring.",
        ]
        let index = try SpanIndex(documents: documents.map { tokenizer.encode($0) })
        let matcher = SpanMatcher(index: index, startsWord: WordStarts.table(for: tokenizer))
        let completion = tokenizer.encode("I read that Zorblax the mountain goat only eats purple clovers in the winter.")
        let spans = matcher.spans(of: completion, decode: { tokenizer.decodeText($0) })
        #expect(spans.map(\.text) == [" Zorblax the mountain goat only eats purple"])
        let start = tokenizer.encode("I read that").count
        #expect(spans.map(\.startToken) == [start])
        #expect(spans.map(\.endToken) == [start + tokenizer.encode(" Zorblax the mountain goat only eats purple").count])
        #expect(spans.map(\.documents) == [[1]])
        #expect(spans.first?.json(documentIDs: documents.map { DatanetDocument(text: $0).id })["docs"] as? [String] == [DatanetDocument(text: documents[1]).id])
        #expect(spans.map(\.count) == [1])
        for span in spans {
            #expect(matcher.startsWord[Int(completion[span.startToken])])
            #expect(span.endToken == completion.count || matcher.startsWord[Int(completion[span.endToken])])
        }
    }
}
