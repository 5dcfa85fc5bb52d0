import Foundation

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A model's chat format, recognised from its Jinja `chat_template` and rendered natively
/// (no template interpreter): ChatML (SmolLM2, Qwen2) or Llama 3 headers.
public enum ChatTemplate: Sendable, Equatable {
    /// `<|im_start|>role\ncontent<|im_end|>\n` per turn. `defaultSystemPrompt` is the system
    /// turn the template inserts when the conversation does not start with one.
    case chatML(defaultSystemPrompt: String?)
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` per turn after `<|begin_of_text|>`.
    case llama3

    /// Recognises `template`, or returns nil for formats not implemented here.
    public init?(jinja template: String) {
        if template.contains("<|im_start|>") {
            self = .chatML(defaultSystemPrompt: Self.defaultSystemPrompt(in: template))
        } else if template.contains("<|start_header_id|>") {
            self = .llama3
        } else {
            return nil
        }
    }

    /// The prompt text for `messages`; with `addGenerationPrompt` it ends by opening the
    /// assistant's turn. Encode it with special tokens parsed.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var text = ""
        switch self {
        case let .chatML(defaultSystemPrompt):
            if let defaultSystemPrompt, messages.first?.role != "system" {
                text += "<|im_start|>system\n\(defaultSystemPrompt)<|im_end|>\n"
            }
            for message in messages { text += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n" }
            if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        case .llama3:
            text = "<|begin_of_text|>"
            for message in messages {
                text += "<|start_header_id|>\(message.role)<|end_header_id|>\n\n\(message.content)<|eot_id|>"
            }
            if addGenerationPrompt { text += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        }
        return text
    }

    /// The text of a system turn the template writes as a string literal when the first
    /// message is not from the system (`'<|im_start|>system\n…<|im_end|>`), if any.
    private static func defaultSystemPrompt(in template: String) -> String? {
        guard template.contains("!= 'system'") || template.contains("!= \"system\"") else { return nil }
        for opener in ["<|im_start|>system\n", "<|im_start|>system\\n"] {
            guard let start = template.range(of: opener), let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex)
            else { continue }
            let literal = String(template[start.upperBound..<end.lowerBound])
            guard !literal.contains("'"), !literal.contains("{") else { continue }
            return literal.replacingOccurrences(of: "\\n", with: "\n")
        }
        return nil
    }
}
