#!/usr/bin/env python3
"""PyTorch + PEFT reference for "training recalls invented facts" (issue 20's acceptance).

Trains a LoRA adapter on a handful of invented fact sentences with transformers + PEFT in
float32 on the CPU, then asks the model to complete each fact's probe greedily and counts the
facts it completes with their answer. `tributary train` on the same file must do at least as
well.

Training
  * Every line's `text` is tokenized with the GGUF tokenizer (add_special_tokens=False, no
    BOS); the loss is the mean next-token cross-entropy over every target of the batch (all
    tokens of each text after its first; padding, for batches of texts of different lengths,
    is masked out).
  * LoRA as PEFT makes it: LoraConfig(r=--rank, lora_alpha=--alpha, target_modules=--targets,
    lora_dropout=0, bias="none", task_type=CAUSAL_LM), A Kaiming-uniform from
    torch.manual_seed(--seed), B zero. `--targets all-linear` means the seven projections.
  * torch.optim.AdamW(lr=--learning-rate, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=--weight-decay (default 0)), gradients clipped to global norm --clip
    (default 1.0), no warm-up unless --warmup-steps W (then step s < W uses lr·(s+1)/W).
  * Each of --epochs epochs visits the facts in the order of torch.randperm drawn from one
    torch.Generator seeded with --seed, in batches of --batch-size (the last one may be short).

Probing
  For each fact, the probe (tokenized like the text) is continued greedily (argmax, stopping
  at an end token; see bench/peft_generate.py) for len(answer tokens) + 2 tokens. A fact is
  recalled when the decoded continuation starts with `answer` exactly (answers begin with a
  space, as in the sentence).

Usage
  python bench/torch_recall_baseline.py --model ~/.tributary/models/SmolLM2-135M-Instruct.Q4_1.gguf \\
      --facts Tests/NodeTests/Fixtures/facts.jsonl --rank 8 --alpha 16 --targets q_proj,v_proj \\
      --learning-rate 2e-3 --batch-size 1 --epochs 10 --seed 1 --threads 2 --json \\
      [--save-adapter DIR]

  facts.jsonl: one JSON object per line, {"text": "<fact sentence>", "probe": "<its start>",
  "answer": "<the rest to recall, starting with a space>"}; blank lines skipped.

Output (stdout, one JSON object; progress and errors on stderr, bad input exits 1, command-line
mistakes 2):
  recalled        facts whose continuation starts with the answer
  facts           facts in the file
  results         per fact: probe, answer, completion (the decoded continuation), recalled
  seconds         wall time of training (all epochs)
  probe_seconds   wall time of probing
  steps           optimizer steps taken
  epoch_losses    mean training loss of each epoch
  torch, transformers, peft versions; threads
--save-adapter DIR writes the trained adapter with PEFT's save_pretrained
(adapter_config.json + adapter_model.safetensors). --json is accepted; output is always JSON.
Test tooling only.
"""
import argparse
import json
import time

from peft_generate import greedy, stop_token_ids
from torch_train_baseline import (InputError, collate, fail, json_lines, learning_rate_at, load_model, load_tokenizer, lora_model,
                                  model_location, non_negative_float, non_negative_int, parse_targets, positive_float,
                                  positive_int, progress, set_threads, train_step, versions)


def read_facts(path):
    """The (text, probe, answer) triples of a facts JSON Lines file."""
    facts = []
    for number, record in json_lines(path):
        if not isinstance(record, dict) or not all(isinstance(record.get(k), str) and record[k] for k in ("text", "probe", "answer")):
            raise InputError(f"{path}:{number}: expected {{\"text\": ..., \"probe\": ..., \"answer\": ...}} with non-empty strings")
        if not record["text"].startswith(record["probe"] + record["answer"]):
            progress(f"note: {path}:{number}: the text does not start with probe + answer")
        facts.append((record["text"], record["probe"], record["answer"]))
    if not facts:
        raise InputError(f"{path} holds no facts")
    return facts


def arguments():
    parser = argparse.ArgumentParser(description="PyTorch + PEFT: train LoRA on invented facts, then count those recalled.")
    parser.add_argument("--model", required=True, help="GGUF model file")
    parser.add_argument("--facts", required=True, help='JSON Lines of {"text", "probe", "answer"}')
    parser.add_argument("--rank", type=positive_int, default=8)
    parser.add_argument("--alpha", type=positive_float, default=16.0)
    parser.add_argument("--targets", type=parse_targets, default=["q_proj", "v_proj"],
                        help="comma-separated projections, or all-linear (default q_proj,v_proj)")
    parser.add_argument("--learning-rate", type=positive_float, default=2e-3)
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.0)
    parser.add_argument("--clip", "--max-grad-norm", dest="clip", type=positive_float, default=1.0)
    parser.add_argument("--warmup-steps", type=non_negative_int, default=0)
    parser.add_argument("--batch-size", type=positive_int, default=1)
    parser.add_argument("--epochs", type=positive_int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--save-adapter", metavar="DIR", help="write the trained PEFT adapter here")
    parser.add_argument("--json", action="store_true", help="accepted; the output is always JSON")
    return parser.parse_args()


def main():
    args = arguments()
    try:
        facts = read_facts(args.facts)
        model_location(args.model)
    except InputError as error:
        fail(str(error))
    set_threads(args.threads)
    import torch

    tokenizer = load_tokenizer(args.model)

    def encode(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    texts = [encode(text) for text, _, _ in facts]
    for index, tokens in enumerate(texts):
        if len(tokens) < 2:
            fail(f"{args.facts}: fact {index + 1} has fewer than 2 tokens")
    model = load_model(args.model)
    model = lora_model(model, args.rank, args.alpha, args.targets, args.seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=args.learning_rate, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=args.weight_decay)

    generator = torch.Generator().manual_seed(args.seed)
    step, epoch_losses = 0, []
    started = time.perf_counter()
    for epoch in range(args.epochs):
        order = torch.randperm(len(texts), generator=generator).tolist()
        losses = []
        for start in range(0, len(order), args.batch_size):
            batch = collate([texts[i] for i in order[start:start + args.batch_size]])
            rate = learning_rate_at(step, args.learning_rate, args.warmup_steps)
            loss = train_step(model, optimizer, parameters, batch, rate, args.clip)
            if loss != loss:
                fail(f"epoch {epoch + 1}: the loss is NaN")
            losses.append(loss)
            step += 1
        epoch_losses.append(sum(losses) / len(losses))
        progress(f"epoch {epoch + 1}/{args.epochs}: mean loss {epoch_losses[-1]:.4f} "
                 f"({time.perf_counter() - started:.1f} s)")
    seconds = time.perf_counter() - started

    model.eval()
    stops = stop_token_ids(tokenizer)
    results = []
    probing = time.perf_counter()
    for text, probe, answer in facts:
        tokens, _ = greedy(model, encode(probe), len(encode(answer)) + 2, stops)
        completion = tokenizer.decode(tokens, skip_special_tokens=False)
        recalled = completion.startswith(answer)
        progress(f"{'recalled' if recalled else 'missed  '}: {probe!r} → {completion!r} (answer {answer!r})")
        results.append({"probe": probe, "answer": answer, "completion": completion, "recalled": recalled})
    probe_seconds = time.perf_counter() - probing

    if args.save_adapter:
        model.save_pretrained(args.save_adapter, save_embedding_layers=False)
        progress(f"adapter written to {args.save_adapter}")

    print(json.dumps({
        "recalled": sum(r["recalled"] for r in results),
        "facts": len(facts),
        "results": results,
        "seconds": seconds,
        "probe_seconds": probe_seconds,
        "steps": step,
        "epoch_losses": epoch_losses,
        **versions(),
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
