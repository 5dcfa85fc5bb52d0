#!/usr/bin/env python3
"""Greedy continuations with transformers + PEFT, to check `tributary generate --adapter`.

Loads the GGUF model with transformers (dequantized to float32), optionally puts a PEFT
LoRA adapter directory on it (adapter_config.json + adapter_model.safetensors, as `tributary
train` writes and PEFT's save_pretrained writes), and continues every prompt greedily: each
step takes the argmax of the last position's logits (no sampling, no temperature, no
repetition penalty), feeding the key/value cache forward one token at a time.

A continuation stops after --max-tokens tokens, or when the model picks an end token: the
GGUF tokenizer's EOS or one of <|im_end|>, <|eot_id|>, <|endoftext|> when the vocabulary has
them as special tokens (the same stop set as the Swift engine's LlamaModel.stopTokenIds).
The end token is not part of the output; finish_reason says which way it ended.

Usage
  python bench/peft_generate.py --model ~/.tributary/models/SmolLM2-135M-Instruct.Q4_1.gguf \\
      [--adapter adapters/medqa] --prompts prompts.json --max-tokens 16 [--threads 2]

  prompts.json: a JSON array of {"tokens": [id, ...]} (used as they are) or {"text": "..."}
  (tokenized with the GGUF tokenizer, add_special_tokens=False; no BOS is added).

Output (stdout): a JSON array, one object per prompt, in order:
  prompt_tokens   the prompt's token ids
  tokens          the generated token ids (end token excluded)
  text            the generated tokens decoded (special tokens kept as text)
  finish_reason   "eos" (an end token was chosen) or "length" (--max-tokens reached)
Progress and errors go to stderr; bad input exits 1 (2 for command-line mistakes).
Test tooling only.
"""
import argparse
import json
import os
import sys
import warnings

from torch_train_baseline import (InputError, fail, load_model, load_tokenizer, model_location, positive_int,
                                  progress, set_threads)

warnings.filterwarnings("ignore", category=FutureWarning)

STOP_SPELLINGS = ["<|im_end|>", "<|eot_id|>", "<|endoftext|>"]


def stop_token_ids(tokenizer):
    """EOS plus the end-of-turn tokens the vocabulary holds as special tokens."""
    ids = set()
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    special = set(tokenizer.all_special_tokens) | {str(t) for t in getattr(tokenizer, "added_tokens_decoder", {}).values()
                                                   if getattr(t, "special", False)}
    for spelling in STOP_SPELLINGS:
        if spelling in special:
            token = tokenizer.convert_tokens_to_ids(spelling)
            if token is not None and token != tokenizer.unk_token_id:
                ids.add(token)
    return ids


def read_prompts(path, tokenizer_loader):
    """The prompts of `path` as token lists; the tokenizer is loaded only if a prompt is text."""
    try:
        with open(path, encoding="utf-8") as handle:
            items = json.load(handle)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}")
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not JSON ({error.msg}, line {error.lineno})")
    if not isinstance(items, list) or not items:
        raise InputError(f"{path}: expected a non-empty JSON array of {{\"tokens\": [...]}} or {{\"text\": \"...\"}}")
    prompts = []
    for index, item in enumerate(items):
        where = f"{path}: prompt {index + 1}"
        if isinstance(item, dict) and "tokens" in item:
            tokens = item["tokens"]
            if not isinstance(tokens, list) or not tokens or not all(type(t) is int and t >= 0 for t in tokens):
                raise InputError(f"{where}: \"tokens\" must be a non-empty array of non-negative integers")
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            tokens = tokenizer_loader()(item["text"], add_special_tokens=False)["input_ids"]
            if not tokens:
                raise InputError(f"{where}: the text has no tokens")
        else:
            raise InputError(f"{where}: expected {{\"tokens\": [...]}} or {{\"text\": \"...\"}}")
        prompts.append(tokens)
    return prompts


def greedy(model, prompt, max_tokens, stop_ids):
    """(generated ids, finish reason) of the greedy continuation of `prompt`."""
    import torch
    generated, cache = [], None
    inputs = torch.tensor([prompt], dtype=torch.long)
    with torch.no_grad():
        while len(generated) < max_tokens:
            output = model(input_ids=inputs, cache=cache, use_cache=True)
            cache = output.cache
            token = int(torch.argmax(output.logits[0, -1]).item())
            if token in stop_ids:
                return generated, "eos"
            generated.append(token)
            inputs = torch.tensor([[token]], dtype=torch.long)
    return generated, "length"


def load_adapter(model, directory):
    """`model` with the PEFT adapter in `directory` on it, in eval mode."""
    from peft import PeftModel
    if not os.path.isfile(os.path.join(directory, "adapter_config.json")):
        raise InputError(f"{directory} is not a PEFT adapter directory (no adapter_config.json)")
    adapted = PeftModel.from_pretrained(model, directory, is_trainable=False)
    adapted.eval()
    progress(f"adapter {directory} loaded")
    return adapted


def main():
    parser = argparse.ArgumentParser(description="Greedy continuations with transformers + PEFT (checks `tributary generate --adapter`).")
    parser.add_argument("--model", required=True, help="GGUF model file")
    parser.add_argument("--adapter", help="PEFT adapter directory (the base model alone without it)")
    parser.add_argument("--prompts", required=True, help='JSON array of {"tokens": [ids]} or {"text": "..."}')
    parser.add_argument("--max-tokens", type=positive_int, required=True, help="tokens to generate at most per prompt")
    parser.add_argument("--threads", type=positive_int, default=2)
    args = parser.parse_args()

    tokenizer = None

    def tokenizer_loader():
        nonlocal tokenizer
        if tokenizer is None:
            tokenizer = load_tokenizer(args.model)
        return tokenizer

    try:
        model_location(args.model)
        if args.adapter and not os.path.isfile(os.path.join(args.adapter, "adapter_config.json")):
            raise InputError(f"{args.adapter} is not a PEFT adapter directory (no adapter_config.json)")
        prompts = read_prompts(args.prompts, tokenizer_loader)
        tokenizer = tokenizer_loader()
        set_threads(args.threads)
        model = load_model(args.model)
        vocabulary = model.config.vocab_size
        for index, prompt in enumerate(prompts):
            if max(prompt) >= vocabulary:
                raise InputError(f"{args.prompts}: prompt {index + 1} has token id {max(prompt)}, beyond the vocabulary of {vocabulary}")
        if args.adapter:
            model = load_adapter(model, args.adapter)
    except InputError as error:
        fail(str(error))

    stops = stop_token_ids(tokenizer)
    results = []
    for index, prompt in enumerate(prompts):
        tokens, reason = greedy(model, prompt, args.max_tokens, stops)
        text = tokenizer.decode(tokens, skip_special_tokens=False)
        progress(f"prompt {index + 1}/{len(prompts)}: {len(tokens)} tokens ({reason}): {text!r}")
        results.append({"prompt_tokens": prompt, "tokens": tokens, "text": text, "finish_reason": reason})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
