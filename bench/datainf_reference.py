#!/usr/bin/env python3
"""Reference influence scores in PyTorch, to check `tributary attribute --method datainf --exact`.

Issue 21's acceptance asks that exact DataInf in Swift match a PyTorch computation of the
issue's formula (Spearman ≥ 0.99 and the same top-5 on a small datanet). This script is that
computation: it loads the GGUF base model with transformers (dequantized to float32), puts a
PEFT LoRA adapter on it, takes one full float32 gradient per datanet document and one for the
query, and scores every document with DataInf, a plain gradient dot product and cosine
similarity. Test tooling only; never part of `make test`.

Definitions (issue 21, normative)
  Documents   a datanet file (docs/datanets.md): {"text"} or {"prompt", "completion"} per line,
              "contributor" optional, other keys ignored, blank lines skipped. A document's id is
              the BLAKE2b-256 hex of its text; a prompt/completion document's text is
              json.dumps({"prompt", "completion"}, sort_keys=True, separators=(",", ":"),
              ensure_ascii=False), and a text that is exactly such JSON is that pair.
  Tokens      the GGUF tokenizer, add_special_tokens=False. A text document: its tokens cut to
              --max-tokens-per-doc; position t predicts token t+1 (0..n-2 → 1..n-1). A
              prompt/completion document: prompt tokens then completion tokens (each tokenized
              on its own), cut to the limit, the loss over the completion tokens only (the first
              completion token predicted from the last prompt token) — TrainingDocuments.sequence
              in Swift. A document with nothing to predict is skipped (as `train` skips it) and
              listed under "skipped".
  Query       prompt tokens then completion tokens (each tokenized on its own, not cut), mean
              cross-entropy over the completion tokens only.
  Loss        mean next-token cross-entropy over the targets; model in eval mode (no dropout).
  Gradients   float32, one document at a time, with respect to every LoRA matrix: each lora_A
              and each lora_B is its own block l, in the model's module order (layer, then
              q,k,v,o,gate,up,down; A before B — LoRAParameters' canonical order in Swift), named
              as in adapter_model.safetensors.
  datainf     with g_li the n documents' gradients and v_l the query's, in float64:
                λ_l = 0.1 · mean_i ‖g_li‖² / d_l          (d_l = entries of block l)
                score_k = Σ_l 1/(n·λ_l) · Σ_i [v_l·g_lk − (v_l·g_li)(g_li·g_lk)/(λ_l + ‖g_li‖²)]
              evaluated as Σ_l 1/(n·λ_l) · (n·v_l·g_lk − w_l·g_lk), w_l = Σ_i c_i g_li,
              c_i = (v_l·g_li)/(λ_l + ‖g_li‖²). A block whose gradients are all zero (λ_l = 0)
              adds nothing and is reported on stderr.
  dot         Σ_l v_l·g_lk.
  cosine      (v·g_k)/(‖v‖·‖g_k‖) over the whole concatenated gradient (0 when a norm is 0).
  A positive score means the document helped (lowered the query's loss, to first order).

Usage
  python=$(bench/torch-venv.sh)
  "$python" bench/datainf_reference.py --model ~/.tributary/models/SmolLM2-135M-Instruct.Q4_1.gguf \\
      --adapter /tmp/adapter --datanet notes.jsonl --prompt "Q: ...\\nA:" --completion " ..." \\
      [--max-tokens-per-doc 256] [--methods datainf,dot,cosine] [--threads 2] \\
      [--compare attribute.json [--spearman-min 0.99] [--top-k 5]] --json
  "$python" bench/datainf_reference.py --self-test

  --compare reads `tributary attribute ... --top 0 --json` output (its "influence" list of
  {"doc", "score"}; the method named in its "method.name", datainf when absent) and checks it
  against this script's scores for that method: Spearman's rank correlation over the
  documents both score ≥ --spearman-min and the same --top-k document ids (as a set; whether
  the order agrees too is reported). A failed check prints one line on stderr and exits 1,
  after the JSON.

  --self-test needs no model: it checks the fast DataInf against a literal evaluation of the
  double sum, dot and cosine against plain loops, on tiny random gradients; document ids and
  canonical JSON against DatanetFileTests' vectors; and the Spearman helper. Prints one line
  per check, exits 1 on a failure.

Output (stdout, one JSON object; --json is accepted, the output is always JSON)
  adapter_dir      the adapter directory
  query            {"prompt_tokens": [ids], "completion_tokens": [ids], "loss"}
  documents        n, the documents scored
  methods          per method {"scores": [{"doc", "score"}] sorted by score descending then id}
                   and for datainf also "lambda" (per block) and "blocks" (their names)
  gradient_norms   [{"doc", "norm", "loss", "targets"}] in datanet order: ‖g_k‖ (float64 of
                   the float32 gradient), the document's loss and its target count
  skipped          [{"line", "doc"}] documents with nothing to predict
  seconds          wall time of the whole run; timings {"load", "gradients", "scoring"}
  comparison       with --compare: {"method", "spearman", "common", "top": [ours], "their_top",
                   "same_top_set", "same_top_order", "passed"}
Progress goes to stderr. Errors are one line on stderr: exit 1 for bad input or a failed
run, 2 for command-line mistakes.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import time
import warnings

# transformers' GGUF de-quantization draws a tqdm bar; keep it out of the logs.
os.environ.setdefault("TQDM_DISABLE", "1")

from torch_train_baseline import InputError, fail, model_location, positive_int, progress

warnings.filterwarnings("ignore", category=FutureWarning)

METHODS = ["datainf", "dot", "cosine"]
LAMBDA_FACTOR = 0.1
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


# ---------------------------------------------------------------------------------------------
# Documents

def canonical_pair(prompt, completion):
    """A prompt/completion document's text: RFC 8785 JSON of {"completion", "prompt"}."""
    return json.dumps({"prompt": prompt, "completion": completion}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def document_id(text):
    return hashlib.blake2b(text.encode("utf-8"), digest_size=32).hexdigest()


def pair_of_text(text):
    """(prompt, completion) when `text` is exactly the canonical JSON of such a pair, else None."""
    if not text.startswith('{"completion":'):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or len(value) != 2:
        return None
    prompt, completion = value.get("prompt"), value.get("completion")
    if not isinstance(prompt, str) or not isinstance(completion, str):
        return None
    return (prompt, completion) if canonical_pair(prompt, completion) == text else None


def read_datanet(path):
    """[{"line", "id", "text", "pair": (prompt, completion) or None, "contributor"}] of a datanet
    file, by docs/datanets.md's rules; a bad line raises InputError naming it."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}")
    documents = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        where = f"{path}, line {number}"
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{where}: not valid UTF-8")
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise InputError(f"{where}: not valid JSON")
        if not isinstance(value, dict):
            raise InputError(f"{where}: not a JSON object")
        contributor = value.get("contributor")
        if contributor is not None:
            if not isinstance(contributor, str) or not HEX64.match(contributor):
                raise InputError(f"{where}: \"contributor\" must be a 64-hex address")
            contributor = contributor.lower()
        has_pair = "prompt" in value or "completion" in value
        if "text" in value:
            if has_pair:
                raise InputError(f"{where}: has both \"text\" and \"prompt\"/\"completion\"; a document is one or the other")
            text = value["text"]
            if not isinstance(text, str):
                raise InputError(f"{where}: \"text\" must be a string")
            if not text:
                raise InputError(f"{where}: \"text\" is empty")
            pair = pair_of_text(text)
        else:
            if not has_pair:
                raise InputError(f"{where}: missing \"text\" (or \"prompt\" and \"completion\")")
            for key, other in (("prompt", "completion"), ("completion", "prompt")):
                if key not in value:
                    raise InputError(f"{where}: has \"{other}\" without \"{key}\"")
                if not isinstance(value[key], str):
                    raise InputError(f"{where}: \"{key}\" must be a string")
            if not value["completion"]:
                raise InputError(f"{where}: \"completion\" is empty")
            pair = (value["prompt"], value["completion"])
            text = canonical_pair(*pair)
        documents.append({"line": number, "id": document_id(text), "text": text, "pair": pair,
                          "contributor": contributor})
    if not documents:
        raise InputError(f"{path} holds no documents")
    return documents


def encode(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def document_sequence(tokenizer, document, max_tokens):
    """(tokens, first target) as TrainingDocuments.sequence builds them."""
    if document["pair"] is None:
        return encode(tokenizer, document["text"])[:max_tokens], 1
    prompt, completion = document["pair"]
    prompt_tokens = encode(tokenizer, prompt)
    tokens = (prompt_tokens + encode(tokenizer, completion))[:max_tokens]
    return tokens, max(1, len(prompt_tokens))


# ---------------------------------------------------------------------------------------------
# Gradients

def load_adapted_model(model_path, adapter_dir):
    """The float32 base model with the PEFT adapter on it, LoRA matrices requiring gradients,
    in eval mode; and [(block name, parameter)] in module order."""
    from peft import PeftModel
    from torch_train_baseline import load_model
    model = load_model(model_path)
    adapted = PeftModel.from_pretrained(model, adapter_dir, is_trainable=True)
    adapted.eval()
    blocks = []
    for name, parameter in adapted.named_parameters():
        if ".lora_A." in name or ".lora_B." in name:
            parameter.requires_grad_(True)
            blocks.append((re.sub(r"\.(lora_[AB])\.[^.]+\.weight$", r".\1.weight", name), parameter))
        else:
            parameter.requires_grad_(False)
    if not blocks:
        raise InputError(f"{adapter_dir}: the adapter has no lora_A/lora_B matrices")
    progress(f"adapter {adapter_dir}: {len(blocks)} LoRA matrices, "
             f"{sum(p.numel() for _, p in blocks)} parameters")
    return adapted, blocks


def loss_and_gradient(model, parameters, tokens, first_target):
    """(mean cross-entropy of tokens[first_target:], flat float32 numpy gradient)."""
    import torch
    import torch.nn.functional as F
    ids = torch.tensor([tokens], dtype=torch.long)
    logits = model(input_ids=ids).logits[0]
    loss = F.cross_entropy(logits[first_target - 1:len(tokens) - 1].float(), ids[0, first_target:])
    gradients = torch.autograd.grad(loss, parameters)
    flat = torch.cat([g.detach().reshape(-1).to(torch.float32) for g in gradients])
    return float(loss.item()), flat.numpy().copy()


# ---------------------------------------------------------------------------------------------
# Scores (float64 from float32 gradients)

def block_slices(sizes):
    slices, start = [], 0
    for size in sizes:
        slices.append(slice(start, start + size))
        start += size
    return slices


def datainf_scores(G, v, slices):
    """(scores, λ per block, zero blocks) of issue 21's DataInf; G is n × D, v is D."""
    import numpy as np
    n = G.shape[0]
    scores = np.zeros(n, dtype=np.float64)
    lambdas, zero_blocks = [], []
    for index, s in enumerate(slices):
        g = np.asarray(G[:, s], dtype=np.float64)
        vl = np.asarray(v[s], dtype=np.float64)
        norms2 = np.einsum("ij,ij->i", g, g)
        lam = LAMBDA_FACTOR * norms2.mean() / g.shape[1]
        lambdas.append(float(lam))
        if lam == 0:
            zero_blocks.append(index)
            continue
        vg = g @ vl
        c = vg / (lam + norms2)
        w = c @ g
        scores += (n * vg - g @ w) / (n * lam)
    return scores, lambdas, zero_blocks


def datainf_literal(G, v, slices):
    """The double sum of issue 21 written out term by term (slow; for the self-test)."""
    import numpy as np
    n = G.shape[0]
    scores = [0.0] * n
    for s in slices:
        g = [np.asarray(G[i, s], dtype=np.float64) for i in range(n)]
        vl = np.asarray(v[s], dtype=np.float64)
        d = len(vl)
        lam = LAMBDA_FACTOR * sum(float(np.dot(gi, gi)) for gi in g) / n / d
        if lam == 0:
            continue
        for k in range(n):
            total = 0.0
            for i in range(n):
                total += float(np.dot(vl, g[k])) - float(np.dot(vl, g[i])) * float(np.dot(g[i], g[k])) / (lam + float(np.dot(g[i], g[i])))
            scores[k] += total / (n * lam)
    return np.array(scores)


def dot_scores(G, v):
    import numpy as np
    return np.asarray(G, dtype=np.float64) @ np.asarray(v, dtype=np.float64)


def cosine_scores(G, v):
    import numpy as np
    G64, v64 = np.asarray(G, dtype=np.float64), np.asarray(v, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", G64, G64))
    denominator = norms * np.sqrt(v64 @ v64)
    dots = G64 @ v64
    return np.where(denominator > 0, dots / np.where(denominator > 0, denominator, 1), 0.0)


def ranked(ids, scores):
    """[{"doc", "score"}] by score descending, then id."""
    return [{"doc": doc, "score": float(score)} for doc, score in sorted(zip(ids, scores), key=lambda p: (-p[1], p[0]))]


def average_ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(a, b):
    """Spearman's rank correlation (average ranks for ties); nan when either side is constant."""
    import numpy as np
    ra, rb = np.array(average_ranks(list(a))), np.array(average_ranks(list(b)))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt((ra @ ra) * (rb @ rb))
    return float(ra @ rb / denominator) if denominator > 0 else float("nan")


# ---------------------------------------------------------------------------------------------
# Comparison with `tributary attribute --json`

def read_attribution(path):
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}")
    except ValueError as error:
        raise InputError(f"{path}: not JSON ({error})")
    influence = value.get("influence") if isinstance(value, dict) else None
    if not isinstance(influence, list) or not influence:
        raise InputError(f"{path}: no \"influence\" list (the output of `tributary attribute --top 0 --json`)")
    scores = {}
    for index, item in enumerate(influence):
        if not isinstance(item, dict) or not isinstance(item.get("doc"), str) \
                or not isinstance(item.get("score"), (int, float)) or isinstance(item.get("score"), bool):
            raise InputError(f"{path}: influence entry {index + 1} is not {{\"doc\": id, \"score\": number}}")
        scores[item["doc"]] = float(item["score"])
    method = value.get("method") or {}
    name = method.get("name", "datainf") if isinstance(method, dict) else "datainf"
    return name, scores, [item["doc"] for item in influence]


def compare(ours_ranked, path, spearman_min, top_k):
    name, theirs, their_order = read_attribution(path)
    ours = {item["doc"]: item["score"] for item in ours_ranked}
    common = sorted(set(ours) & set(theirs))
    if len(common) < 2:
        raise InputError(f"{path}: fewer than 2 documents in common with the datanet's")
    missing = len(ours) - len(common)
    if missing:
        progress(f"note: {path} scores {len(common)} of our {len(ours)} documents (use --top 0 for all)")
    rho = spearman([ours[d] for d in common], [theirs[d] for d in common])
    our_top = [item["doc"] for item in ours_ranked][:top_k]
    their_top = sorted(theirs, key=lambda d: (-theirs[d], d))[:top_k]
    same_set = set(our_top) == set(their_top)
    result = {"method": name, "spearman": rho, "common": len(common), "top": our_top, "their_top": their_top,
              "same_top_set": same_set, "same_top_order": our_top == their_top,
              "passed": bool(rho >= spearman_min and same_set)}
    return result


# ---------------------------------------------------------------------------------------------
# Self-test

def self_test():
    import numpy as np
    failures = 0

    def check(name, ok, detail=""):
        nonlocal failures
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")

    random = np.random.default_rng(21)
    for case, (n, sizes, scales) in enumerate([(6, [7, 12, 5], [1.0, 1e-3, 30.0]),
                                                (9, [3, 40, 1, 17], [1.0, 1.0, 1e-4, 5.0]),
                                                (2, [64], [1e-2])]):
        slices = block_slices(sizes)
        G = np.concatenate([random.standard_normal((n, size)).astype(np.float32) * scale
                            for size, scale in zip(sizes, scales)], axis=1)
        v = np.concatenate([random.standard_normal(size).astype(np.float32) * scale
                            for size, scale in zip(sizes, scales)])
        G[0] *= 4  # one large-norm document, so the Sherman–Morrison term differs across i
        fast, lambdas, _ = datainf_scores(G, v, slices)
        literal = datainf_literal(G, v, slices)
        error = float(np.max(np.abs(fast - literal)) / np.max(np.abs(literal)))
        check(f"datainf fast = literal double sum (case {case + 1}: n={n}, blocks {sizes})", error < 1e-10,
              f"max relative difference {error:.2e}")
        for s, lam in zip(slices, lambdas):
            expected = LAMBDA_FACTOR * float(np.mean([np.dot(g, g) for g in G[:, s].astype(np.float64)])) / (s.stop - s.start)
            if abs(lam - expected) > 1e-12 * expected:
                check(f"λ of case {case + 1}", False, f"{lam} vs {expected}")
                break
        else:
            check(f"λ_l = 0.1·mean‖g_li‖²/d_l (case {case + 1})", True)
        dots = [sum(float(a) * float(b) for a, b in zip(G[k], v)) for k in range(n)]
        error = max(abs(a - b) for a, b in zip(dot_scores(G, v), dots)) / max(abs(x) for x in dots)
        check(f"dot = Σ v·g_k (case {case + 1})", error < 1e-12, f"{error:.1e}")
        norm_v = sum(float(x) ** 2 for x in v) ** 0.5
        cosines = [dots[k] / (norm_v * sum(float(x) ** 2 for x in G[k]) ** 0.5) for k in range(n)]
        error = max(abs(a - b) for a, b in zip(cosine_scores(G, v), cosines))
        check(f"cosine = v·g_k/(‖v‖‖g_k‖) (case {case + 1})", error < 1e-12, f"{error:.1e}")

    # A zero block (e.g. lora_A of an untrained adapter, B = 0) adds nothing instead of 0/0.
    G = random.standard_normal((4, 10)).astype(np.float32)
    G[:, 3:6] = 0
    v = random.standard_normal(10).astype(np.float32)
    with_zero, lambdas, zero = datainf_scores(G, v, block_slices([3, 3, 4]))
    without, _, _ = datainf_scores(G[:, [0, 1, 2, 6, 7, 8, 9]], v[[0, 1, 2, 6, 7, 8, 9]], block_slices([3, 4]))
    check("a block of zero gradients is skipped", zero == [1] and lambdas[1] == 0 and np.allclose(with_zero, without, rtol=1e-14))

    # DataInf with a huge λ tends to (1/λ)·dot per block: the ranking of a single block's dot.
    G = random.standard_normal((8, 20)).astype(np.float32)
    v = random.standard_normal(20).astype(np.float32)
    saved = globals()["LAMBDA_FACTOR"]
    globals()["LAMBDA_FACTOR"] = 1e9
    large, _, _ = datainf_scores(G, v, [slice(0, 20)])
    globals()["LAMBDA_FACTOR"] = saved
    check("datainf → dot ranking as λ → ∞", list(np.argsort(large)) == list(np.argsort(dot_scores(G, v))))

    # Document ids and canonical JSON: DatanetFileTests' vectors (made with this same Python).
    check("id of \"abc\"", document_id("abc") == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
    canonical = canonical_pair("Q: a\"b\\c\n\t\x01/é€𝄞\x7f", " yes")
    check("canonical prompt/completion JSON", canonical == '{"completion":" yes","prompt":"Q: a\\"b\\\\c\\n\\t\\u0001/é€𝄞\x7f"}')
    check("prompt/completion id", document_id(canonical) == "85aaa2ca6e73fba5e66f90ab6b34afabdad20b9355f1ffc2557e5a7b07eb920c")
    check("a canonical text is its pair", pair_of_text(canonical) == ("Q: a\"b\\c\n\t\x01/é€𝄞\x7f", " yes"))
    check("non-canonical JSON stays text",
          all(pair_of_text(t) is None for t in ['{"completion": " yes","prompt":"Q"}', '{"completion":" yes","prompt":"Q","x":"y"}',
                                                 '{"completion":" yes","prompt":"\\u0041"}']))

    # Spearman: ties by average rank; monotone maps give 1; reversal −1.
    check("spearman of a monotone map", abs(spearman([1, 2, 3, 4], [10, 20, 35, 100]) - 1) < 1e-15)
    check("spearman of a reversal", abs(spearman([1, 2, 3, 4], [4, 3, 2, 1]) + 1) < 1e-15)
    check("spearman with ties", abs(spearman([1, 2, 2, 3], [1, 2, 3, 4]) - 0.9486832980505138) < 1e-12)

    print(f"{'all checks passed' if failures == 0 else f'{failures} check(s) failed'}")
    return failures == 0


# ---------------------------------------------------------------------------------------------

def methods_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in METHODS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(METHODS)}, got {text!r}")
    return list(dict.fromkeys(names))


def max_tokens(text):
    value = int(text)
    if not 2 <= value <= 2048:
        raise argparse.ArgumentTypeError(f"must be 2…2048 (the trainer's limit), not {value}")
    return value


def unit_interval(text):
    value = float(text)
    if not -1 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [-1, 1], not {text}")
    return value


class Parser(argparse.ArgumentParser):
    """Command-line mistakes as one line on stderr, exit 2 (no usage dump)."""

    def error(self, message):
        fail(f"{message} (see --help)", status=2)


def arguments():
    parser = Parser(
        description="Reference DataInf / dot / cosine influence scores in PyTorch + PEFT (checks `tributary attribute --exact`).")
    parser.add_argument("--self-test", action="store_true", help="check the scoring code on tiny random examples and exit")
    parser.add_argument("--model", help="GGUF model file")
    parser.add_argument("--adapter", help="PEFT adapter directory")
    parser.add_argument("--datanet", help="datanet file (JSON Lines)")
    parser.add_argument("--prompt", help="the query's prompt")
    parser.add_argument("--completion", help="the query's completion (non-empty)")
    parser.add_argument("--max-tokens-per-doc", type=max_tokens, default=256)
    parser.add_argument("--methods", type=methods_list, default=list(METHODS), help="comma-separated: datainf,dot,cosine")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--compare", help="`tributary attribute --top 0 --json` output to check against")
    parser.add_argument("--spearman-min", type=unit_interval, default=0.99)
    parser.add_argument("--top-k", type=positive_int, default=5)
    parser.add_argument("--json", action="store_true", help="accepted; the output is always JSON")
    args = parser.parse_args()
    if not args.self_test:
        missing = [flag for flag, value in (("--model", args.model), ("--adapter", args.adapter), ("--datanet", args.datanet),
                                            ("--prompt", args.prompt), ("--completion", args.completion)) if value is None]
        if missing:
            parser.error(f"missing {', '.join(missing)}")
        if not args.completion:
            parser.error("--completion is empty: the query loss needs completion tokens")
    return args


def main():
    args = arguments()
    if args.self_test:
        sys.exit(0 if self_test() else 1)
    started = time.perf_counter()
    try:
        model_location(args.model)
        if not os.path.isfile(os.path.join(args.adapter, "adapter_config.json")):
            raise InputError(f"{args.adapter} is not a PEFT adapter directory (no adapter_config.json)")
        documents = read_datanet(args.datanet)
        from torch_train_baseline import load_tokenizer, set_threads
        set_threads(args.threads)
        import numpy as np
        import torch
        tokenizer = load_tokenizer(args.model)
        model, blocks = load_adapted_model(args.model, args.adapter)
        vocabulary = model.config.vocab_size
        prompt_tokens, completion_tokens = encode(tokenizer, args.prompt), encode(tokenizer, args.completion)
        if not completion_tokens:
            raise InputError("the completion has no tokens")
        if not prompt_tokens:
            progress("note: the prompt has no tokens; the completion's first token is not a target")
            if len(completion_tokens) < 2:
                raise InputError("the query has nothing to predict (no prompt tokens and one completion token)")
    except InputError as error:
        fail(str(error))
    loaded = time.perf_counter()

    parameters = [p for _, p in blocks]
    slices = block_slices([p.numel() for p in parameters])
    names = [name for name, _ in blocks]
    query_loss, query_gradient = loss_and_gradient(model, parameters, prompt_tokens + completion_tokens,
                                                   max(1, len(prompt_tokens)))
    progress(f"query: {len(prompt_tokens)} prompt + {len(completion_tokens)} completion tokens, loss {query_loss:.4f}, "
             f"gradient norm {float(np.linalg.norm(query_gradient.astype(np.float64))):.4g}")

    scored, skipped, rows, norms = [], [], [], []
    for index, document in enumerate(documents):
        tokens, first_target = document_sequence(tokenizer, document, args.max_tokens_per_doc)
        if len(tokens) - first_target < 1:
            skipped.append({"line": document["line"], "doc": document["id"]})
            progress(f"note: line {document['line']} has nothing to predict; skipped (as train skips it)")
            continue
        if max(tokens) >= vocabulary:
            fail(f"{args.datanet}, line {document['line']}: token {max(tokens)} outside the vocabulary of {vocabulary}")
        loss, gradient = loss_and_gradient(model, parameters, tokens, first_target)
        if not np.all(np.isfinite(gradient)):
            fail(f"{args.datanet}, line {document['line']}: the gradient is not finite")
        scored.append(document)
        rows.append(gradient)
        norm = float(np.linalg.norm(gradient.astype(np.float64)))
        norms.append({"doc": document["id"], "norm": norm, "loss": loss, "targets": len(tokens) - first_target})
        progress(f"document {index + 1}/{len(documents)}: {len(tokens)} tokens, loss {loss:.4f}, gradient norm {norm:.4g}")
    if not scored:
        fail(f"{args.datanet}: no document has anything to predict")
    ids = [document["id"] for document in scored]
    if len(set(ids)) != len(ids):
        progress("note: the datanet repeats documents; each line is scored (and counted in n) on its own")
    G = np.stack(rows)
    del rows
    computed = time.perf_counter()

    results = {}
    for method in args.methods:
        if method == "datainf":
            scores, lambdas, zero_blocks = datainf_scores(G, query_gradient, slices)
            for index in zero_blocks:
                progress(f"note: every document's gradient of {names[index]} is zero (λ = 0); the block adds nothing")
            results[method] = {"scores": ranked(ids, scores), "lambda": lambdas, "blocks": names}
        elif method == "dot":
            results[method] = {"scores": ranked(ids, dot_scores(G, query_gradient))}
        else:
            results[method] = {"scores": ranked(ids, cosine_scores(G, query_gradient))}
    finished = time.perf_counter()

    output = {
        "adapter_dir": args.adapter,
        "query": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "loss": query_loss},
        "documents": len(scored),
        "methods": results,
        "gradient_norms": norms,
        "skipped": skipped,
        "seconds": finished - started,
        "timings": {"load": loaded - started, "gradients": computed - loaded, "scoring": finished - computed},
        "threads": torch.get_num_threads(),
        "max_tokens_per_doc": args.max_tokens_per_doc,
    }
    failure = None
    if args.compare:
        try:
            # The file's method.name picks our scores to compare with (datainf when unnamed).
            name = read_attribution(args.compare)[0]
            if name not in results:
                raise InputError(f"{args.compare} holds method {name!r}, which this run did not compute (--methods)")
            output["comparison"] = compare(results[name]["scores"], args.compare, args.spearman_min, args.top_k)
        except InputError as error:
            fail(str(error))
        comparison = output["comparison"]
        if not comparison["passed"]:
            failure = (f"{args.compare} differs from the reference ({comparison['method']}): Spearman {comparison['spearman']:.4f} "
                       f"(need ≥ {args.spearman_min}), top-{args.top_k} {'the same' if comparison['same_top_set'] else 'different'}")
    print(json.dumps(output))
    if failure:
        fail(failure)


if __name__ == "__main__":
    main()
