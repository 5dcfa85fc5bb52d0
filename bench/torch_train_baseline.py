#!/usr/bin/env python3
"""PyTorch + PEFT baseline for `tributary bench train`: LoRA training throughput in float32.

Trains a LoRA adapter on already-tokenized documents with transformers + PEFT on the CPU
and measures how fast the training steps run, on the same documents, settings and thread
count as the Swift trainer in the same bench run.

What it does
  * Loads the GGUF model with transformers (`gguf_file=`), which dequantizes every weight to
    float32; the base weights are frozen.
  * Wraps it with PEFT: LoraConfig(r=--rank, lora_alpha=--alpha, target_modules=--targets,
    lora_dropout=0, bias="none", task_type=CAUSAL_LM), initialised as PEFT does (A
    Kaiming-uniform from torch.manual_seed(--seed), B zero). `--targets all-linear` means the
    seven projections q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj of every block,
    named explicitly (the tied LM head is never adapted).
  * torch.optim.AdamW(lr=--learning-rate, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=--weight-decay), gradient clipping to global L2 norm --clip, linear warm-up:
    step s (0-based) of the first W=--warmup-steps uses lr·(s+1)/W, later steps lr (the
    schedule of Sources/Inference/Training/TrainingSettings.swift).
  * Step s trains on documents s·B … s·B+B−1 (B=--batch-size) in file order, wrapping around
    to the first document when the file runs out. Documents of different lengths are padded
    on the right; padding is masked out of attention and out of the loss.
  * Loss: mean next-token cross-entropy over every non-padding target of the batch (document
    token i+1 predicted from tokens 0…i), as transformers computes it for labels=input_ids.

What is timed
  The first --warmup-steps steps are run but not timed (they warm the allocator and the
  thread pool; they are also the learning-rate warm-up). Each later step is timed with
  time.perf_counter from the forward pass to the end of the optimizer step (forward,
  backward, clipping, AdamW update); batch assembly is outside the timer.

  tokens_per_second = timed_tokens / seconds, where timed_tokens counts *target* tokens:
  Σ (length − 1) over every document of every timed step (a document of n tokens gives n − 1
  predictions). Padding is never counted.

Usage
  python bench/torch_train_baseline.py --model ~/.tributary/models/SmolLM2-135M-Instruct.Q4_1.gguf \\
      --documents docs.jsonl --rank 8 --alpha 16 --targets q_proj,v_proj --batch-size 8 \\
      --learning-rate 3e-4 --steps 6 --warmup-steps 2 --threads 2 --seed 1 --json

  docs.jsonl: one JSON object per line, {"tokens": [id, ...]} with at least 2 ids each, every
  id below the model's vocabulary size. Blank lines are skipped.

Output (stdout, one JSON object; progress and errors go to stderr, bad input exits 1 or 2
with a one-line message)
  tokens_per_second         timed_tokens / seconds
  timed_steps               steps timed (steps − warmup_steps)
  timed_tokens              target tokens of the timed steps, Σ (length − 1)
  seconds                   wall time of the timed steps
  peak_rss_bytes            the process's peak resident memory over its whole life
                            (getrusage ru_maxrss × 1024), loading the model included
  training_peak_rss_bytes   peak resident memory from the first training step on (the peak
                            is reset through /proc/self/clear_refs once the model is loaded
                            and loading's garbage freed); null where the kernel refuses
  loaded_rss_bytes          resident memory just before training starts
  losses                    the loss of every step, warm-up steps included
  steps, warmup_steps, batch_size, rank, alpha, targets, learning_rate, seed
  torch, transformers, peft versions; threads (torch.get_num_threads() while training)

--json is accepted for symmetry with the other baselines; the output is always JSON.

The helpers below (model loading, targets, LoRA config, memory) are shared with
bench/torch_recall_baseline.py and bench/peft_generate.py. Test tooling only.
"""
import argparse
import ctypes
import gc
import json
import os
import resource
import sys
import time
import warnings

# Everything is local: never ask the Hugging Face hub, and keep tqdm bars out of the logs.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
# transformers deprecation notices (e.g. one PEFT triggers) say nothing about the run.
warnings.filterwarnings("ignore", category=FutureWarning)

PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class InputError(Exception):
    """Bad input: reported as one line on stderr with exit status 1."""


def fail(message, status=1):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def progress(message):
    print(message, file=sys.stderr, flush=True)


def parse_targets(text):
    """`q_proj,v_proj` → that list; `all-linear` → the seven projections named explicitly."""
    if text.strip() == "all-linear":
        return list(PROJECTIONS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("names no projection")
    unknown = [name for name in names if name not in PROJECTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown projection {', '.join(unknown)} (use {','.join(PROJECTIONS)} or all-linear)")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError("names a projection twice")
    return names


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a non-negative number, not {text}")
    return value


def model_location(path):
    """(directory, file name) of a GGUF model file, checked to exist."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise InputError(f"model file {path} does not exist")
    if not path.endswith(".gguf"):
        raise InputError(f"model file {path} is not a .gguf file")
    return os.path.dirname(path), os.path.basename(path)


def set_threads(threads):
    import torch
    torch.set_num_threads(threads)


def load_tokenizer(model_path):
    """The GGUF file's tokenizer, as transformers builds it."""
    from transformers import AutoTokenizer
    directory, name = model_location(model_path)
    return AutoTokenizer.from_pretrained(directory, gguf_file=name)


def load_model(model_path):
    """The GGUF model dequantized to float32 on the CPU, frozen, in eval mode (no dropout)."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
    transformers.utils.logging.disable_progress_bar()
    directory, name = model_location(model_path)
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.requires_grad_(False)
    model.eval()
    progress(f"loaded {name} ({type(model).__name__}, float32, tied embeddings: "
             f"{model.config.tie_word_embeddings}) in {time.perf_counter() - started:.1f} s")
    return model


def lora_model(model, rank, alpha, targets, seed):
    """`model` with fresh LoRA adapters on `targets`, initialised from `seed` as PEFT does."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    alpha = int(alpha) if float(alpha).is_integer() else alpha  # written as 16, not 16.0, in adapter_config.json
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(targets), lora_dropout=0.0,
                        bias="none", task_type=TaskType.CAUSAL_LM)
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, config)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    progress(f"LoRA r={rank} alpha={alpha} on {','.join(targets)}: {trainable} trainable parameters")
    return peft_model


def collate(sequences, pad_id=0):
    """Right-padded input ids, attention mask and labels (-100 on padding) for `sequences`."""
    import torch
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    labels = torch.full((len(sequences), width), -100, dtype=torch.long)
    for row, tokens in enumerate(sequences):
        ids[row, :len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[row, :len(tokens)] = 1
        labels[row, :len(tokens)] = ids[row, :len(tokens)]
    return ids, mask, labels


def next_token_loss(model, ids, mask, labels):
    """Mean cross-entropy of every non-padding next token of the batch."""
    import torch.nn.functional as F
    logits = model(input_ids=ids, attention_mask=mask).logits
    return F.cross_entropy(logits[:, :-1, :].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                           ignore_index=-100)


def learning_rate_at(step, peak, warmup_steps):
    """Linear warm-up: step s (0-based) of the first W uses peak·(s+1)/W, later steps peak."""
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    return peak


def train_step(model, optimizer, parameters, batch, learning_rate, clip):
    """One forward, backward, clip and AdamW update; returns the loss."""
    import torch
    ids, mask, labels = batch
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
    optimizer.zero_grad(set_to_none=True)
    loss = next_token_loss(model, ids, mask, labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, clip)
    optimizer.step()
    return loss.item()


def current_rss_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def lifetime_peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss():
    """Returns memory freed by malloc to the system, then resets the kernel's resident-memory
    high-water mark (VmHWM); True when the reset took."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def high_water_rss_bytes():
    """VmHWM of /proc/self/status in bytes (peak resident memory since the last reset)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def versions():
    import peft
    import torch
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}


def json_lines(path):
    """(line number, parsed value) of every non-blank line of a JSON Lines file."""
    try:
        handle = open(path, encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}")
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number}: not JSON ({error.msg})")


def read_token_documents(path):
    """The token lists of a {"tokens": [...]} JSON Lines file; blank lines skipped."""
    documents = []
    for number, record in json_lines(path):
        tokens = record.get("tokens") if isinstance(record, dict) else None
        if not isinstance(tokens, list) or not all(type(t) is int for t in tokens):
            raise InputError(f"{path}:{number}: expected {{\"tokens\": [integer, ...]}}")
        if len(tokens) < 2:
            raise InputError(f"{path}:{number}: a document needs at least 2 tokens to train on, has {len(tokens)}")
        if min(tokens) < 0:
            raise InputError(f"{path}:{number}: negative token id {min(tokens)}")
        documents.append(tokens)
    if not documents:
        raise InputError(f"{path} holds no documents")
    return documents


def arguments():
    parser = argparse.ArgumentParser(
        description="PyTorch + PEFT float32 LoRA training throughput (baseline of `tributary bench train`).")
    parser.add_argument("--model", required=True, help="GGUF model file")
    parser.add_argument("--documents", required=True, help='JSON Lines of {"tokens": [ids]}')
    parser.add_argument("--rank", type=positive_int, default=8)
    parser.add_argument("--alpha", type=positive_float, default=16.0)
    parser.add_argument("--targets", type=parse_targets, default=["q_proj", "v_proj"],
                        help="comma-separated projections, or all-linear (default q_proj,v_proj)")
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--learning-rate", type=positive_float, default=3e-4)
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.0)
    parser.add_argument("--clip", "--max-grad-norm", dest="clip", type=positive_float, default=1.0,
                        help="global gradient L2 norm limit (default 1.0)")
    parser.add_argument("--steps", type=positive_int, required=True, help="training steps, warm-up included")
    parser.add_argument("--warmup-steps", type=non_negative_int, default=1,
                        help="untimed first steps, also the linear learning-rate warm-up (default 1)")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="accepted; the output is always JSON")
    args = parser.parse_args()
    if args.warmup_steps >= args.steps:
        parser.error(f"--warmup-steps ({args.warmup_steps}) must be below --steps ({args.steps}): nothing would be timed")
    return args


def main():
    args = arguments()
    try:
        documents = read_token_documents(args.documents)
        model_location(args.model)
    except InputError as error:
        fail(str(error))
    set_threads(args.threads)
    import torch

    model = load_model(args.model)
    vocabulary = model.config.vocab_size
    for index, tokens in enumerate(documents):
        if max(tokens) >= vocabulary:
            fail(f"{args.documents}: document {index + 1} has token id {max(tokens)}, "
                 f"beyond the model's vocabulary of {vocabulary}")
    model = lora_model(model, args.rank, args.alpha, args.targets, args.seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=args.learning_rate, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=args.weight_decay)

    def batch(step):
        start = step * args.batch_size
        return [documents[(start + i) % len(documents)] for i in range(args.batch_size)]

    loaded_rss = current_rss_bytes()
    load_peak = lifetime_peak_rss_bytes()
    reset = reset_peak_rss()
    loaded_rss = min(loaded_rss, current_rss_bytes())
    progress(f"{len(documents)} documents; {args.steps} steps of {args.batch_size} "
             f"({args.warmup_steps} untimed) on {torch.get_num_threads()} threads")

    losses, seconds, timed_tokens = [], 0.0, 0
    for step in range(args.steps):
        sequences = batch(step)
        tensors = collate(sequences)
        rate = learning_rate_at(step, args.learning_rate, args.warmup_steps)
        started = time.perf_counter()
        loss = train_step(model, optimizer, parameters, tensors, rate, args.clip)
        elapsed = time.perf_counter() - started
        if loss != loss:
            fail(f"step {step + 1}: the loss is NaN")
        losses.append(loss)
        timed = step >= args.warmup_steps
        if timed:
            seconds += elapsed
            timed_tokens += sum(len(s) - 1 for s in sequences)
        progress(f"step {step + 1}/{args.steps}: loss {loss:.4f}, {elapsed:.2f} s" + ("" if timed else " (untimed)"))

    training_peak = high_water_rss_bytes() if reset else None
    peak = max(load_peak, lifetime_peak_rss_bytes(), training_peak or 0)
    result = {
        "tokens_per_second": timed_tokens / seconds,
        "timed_steps": args.steps - args.warmup_steps,
        "timed_tokens": timed_tokens,
        "seconds": seconds,
        "peak_rss_bytes": peak,
        "training_peak_rss_bytes": training_peak,
        "loaded_rss_bytes": loaded_rss,
        "losses": losses,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "batch_size": args.batch_size,
        "rank": args.rank,
        "alpha": args.alpha,
        "targets": args.targets,
        "learning_rate": args.learning_rate,
        "seed": args.seed,
        **versions(),
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
