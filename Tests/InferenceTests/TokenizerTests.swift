import Foundation
import Inference
import Testing

extension ModelTests {
    @Suite struct TokenizerTests {
        @Test func encodesEveryPromptToTheReferenceIds() throws {
            let tokenizer = try DefaultModel.model().tokenizer
            for prompt in Expected.shared.prompts {
                #expect(tokenizer.encode(prompt.text) == prompt.tokenIds, "prompt \(prompt.text.debugDescription)")
            }
        }

        @Test func decodingRoundTripsBytes() throws {
            let tokenizer = try DefaultModel.model().tokenizer
            let samples = Expected.shared.prompts.map(\.text) + [
                "", " ", "\n\n\t  x", "tabs\tand\r\nCRLF", "ünïcödé 😀👩‍👩‍👧 ☃ 東京 ﷽", "numbers 1234567890 ½ Ⅻ", "it's we'll they'VE",
                String(repeating: "a", count: 3000),
            ]
            for text in samples {
                #expect(tokenizer.decode(tokenizer.encode(text)) == Array(text.utf8), "text \(text.prefix(40).debugDescription)")
            }
        }

        @Test func decodesTheReferenceContinuations() throws {
            let tokenizer = try DefaultModel.model().tokenizer
            for (index, prompt) in Expected.shared.prompts.enumerated() {
                #expect(tokenizer.decodeText(Expected.shared.baseGreedy(index)) == prompt.decodedGreedyBase)
            }
        }

        @Test func specialTokensAreParsedOnlyWhenAsked() throws {
            let tokenizer = try DefaultModel.model().tokenizer
            let imStart = try #require(tokenizer.specialTokenId("<|im_start|>"))
            #expect(tokenizer.encode("<|im_start|>user") == [imStart] + tokenizer.encode("user"))
            let literal = tokenizer.encode("<|im_start|>user", parsingSpecialTokens: false)
            #expect(!literal.contains(imStart))
            #expect(tokenizer.decodeText(literal) == "<|im_start|>user")
        }

        @Test func chatTemplateRendersTheReferencePrompt() throws {
            let model = try DefaultModel.model()
            let template = try #require(model.chatTemplate)
            let rendered = template.render([ChatMessage(role: "user", content: "What is LoRA in one sentence?")], addGenerationPrompt: true)
            let reference = try #require(Expected.shared.prompts.last)
            #expect(rendered == reference.text)
            #expect(model.tokenizer.encode(rendered) == reference.tokenIds)
        }
    }
}

@Suite struct PreTokenizerTests {
    /// GPT-2's split keeps one leading space on words and leaves the last space of a run
    /// for the next word; SmolLM additionally isolates every digit.
    @Test func splitsLikeTheGPT2Expression() {
        let text = "Hello  world's 2024!\n\n  end "
        let pieces = PreTokenizer.gpt2(isolateDigits: false).pieces(of: text)
        #expect(pieces == ["Hello", " ", " world", "'s", " 2024", "!", "\n\n ", " end", " "])
        let smollm = PreTokenizer.gpt2(isolateDigits: true).pieces(of: text)
        #expect(smollm == ["Hello", " ", " world", "'s", " ", "2", "0", "2", "4", "!", "\n\n ", " end", " "])
    }

    @Test func splitsLikeTheLlama3Expression() {
        let text = "Hello  WORLD'S 12345!!\n\n  end"
        #expect(PreTokenizer.llama3(numberRunMax: 3).pieces(of: text) == ["Hello", " ", " WORLD", "'S", " ", "123", "45", "!!\n\n", " ", " end"])
        #expect(PreTokenizer.llama3(numberRunMax: 1).pieces(of: "x 12") == ["x", " ", "1", "2"])
    }
}
