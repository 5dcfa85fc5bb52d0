#!/usr/bin/env python3
"""llama.cpp baseline for `tributary bench inference`.

Runs the workload the bench command wrote (token ids, so both engines see identical
prompts) through llama.cpp via llama-cpp-python's low-level API, with greedy choice of the
next token, and prints one JSON object of figures named like the Swift side's:

  prefill_tokens_per_s      512-token prompt in one llama_decode call (n_batch 512)
  ttft_ms / ttft_short_ms   prompt evaluation + first greedy token, long and short prompt
  decode_tokens_per_s       one stream, one token per llama_decode
  aggregate_<N>_tokens_per_s  N sequences, one token each per llama_decode call
  peak_rss_mb               this process's peak resident set (includes the Python runtime)

Each figure is the median of `repeats` runs. Usage:
  llama_cpp_baseline.py --model FILE --threads N --workload FILE.json
"""
import argparse
import ctypes
import json
import resource
import statistics
import sys
import time

import llama_cpp
import numpy as np


@llama_cpp.llama_log_callback
def quiet_log(level, text, user_data):
    """llama.cpp logs every graph build; the figures go to stdout and nothing else is needed."""


class Engine:
    """One llama.cpp context (and its batch) over a shared model."""

    model = None

    def __init__(self, model_path: str, threads: int, sequences_max: int, context: int):
        if Engine.model is None:
            llama_cpp.llama_log_set(quiet_log, ctypes.c_void_p())
            llama_cpp.llama_backend_init()
            Engine.model = llama_cpp.llama_model_load_from_file(model_path.encode(), llama_cpp.llama_model_default_params())
            if not Engine.model:
                sys.exit(f"llama.cpp could not load {model_path}")
        self.vocab_size = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(Engine.model))
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = context
        params.n_batch = 512
        params.n_ubatch = 512
        params.n_seq_max = sequences_max
        params.n_threads = threads
        params.n_threads_batch = threads
        # Separate cache cells per sequence: llama.cpp's advice when sequences share no prefix.
        params.kv_unified = False
        self.context = llama_cpp.llama_init_from_model(Engine.model, params)
        if not self.context:
            sys.exit("llama.cpp could not create a context")
        self.batch = llama_cpp.llama_batch_init(512, 0, sequences_max)

    def clear(self):
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.context), True)

    def decode(self, entries):
        """entries: (sequence, position, token, wants_logits); returns argmax per wanted row."""
        batch = self.batch
        for index, (sequence, position, token, wants) in enumerate(entries):
            batch.token[index] = token
            batch.pos[index] = position
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = sequence
            batch.logits[index] = 1 if wants else 0
        batch.n_tokens = len(entries)
        status = llama_cpp.llama_decode(self.context, batch)
        if status != 0:
            sys.exit(f"llama_decode failed with status {status}")
        chosen = []
        for index, entry in enumerate(entries):
            if entry[3]:
                logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.context, index), shape=(self.vocab_size,))
                chosen.append(int(np.argmax(logits)))
        return chosen

    def prefill(self, sequence, tokens):
        """Evaluates tokens in chunks of 512; returns the greedy next token."""
        chosen = None
        for start in range(0, len(tokens), 512):
            chunk = tokens[start:start + 512]
            entries = [(sequence, start + i, t, start + i == len(tokens) - 1) for i, t in enumerate(chunk)]
            result = self.decode(entries)
            if result:
                chosen = result[0]
        return chosen


def median_of(repeats, run):
    return statistics.median(run() for _ in range(repeats))


def arguments_and_workload():
    """The command line every baseline script takes, and the workload file it names."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--workload", required=True)
    args = parser.parse_args()
    with open(args.workload) as handle:
        return args, json.load(handle)


def main():
    args, work = arguments_and_workload()
    streams = work["streams"]
    single_context = max(len(work["prompt_long"]), len(work["prompt_short"]) + work["single_decode_tokens"]) + 8
    engine = Engine(args.model, args.threads, 1, single_context)
    repeats = work["repeats"]
    figures = {"engine": "llama.cpp (llama-cpp-python %s)" % llama_cpp.__version__, "threads": args.threads}

    def long_prompt():
        engine.clear()
        start = time.perf_counter()
        engine.prefill(0, work["prompt_long"])
        return time.perf_counter() - start

    seconds = median_of(repeats, long_prompt)
    figures["prefill_tokens_per_s"] = len(work["prompt_long"]) / seconds
    figures["ttft_ms"] = seconds * 1000

    def short_prompt():
        engine.clear()
        start = time.perf_counter()
        engine.prefill(0, work["prompt_short"])
        return time.perf_counter() - start

    figures["ttft_short_ms"] = median_of(repeats, short_prompt) * 1000

    def single_decode():
        engine.clear()
        prompt = work["prompt_short"]
        token = engine.prefill(0, prompt)
        steps = work["single_decode_tokens"]
        start = time.perf_counter()
        for step in range(steps):
            token = engine.decode([(0, len(prompt) + step, token, True)])[0]
        return steps / (time.perf_counter() - start)

    figures["decode_tokens_per_s"] = median_of(repeats, single_decode)

    for count in streams:
        prompts = work["stream_prompts"][:count]
        per_sequence = max(len(p) for p in prompts) + work["stream_decode_steps"] + 8
        engine = Engine(args.model, args.threads, count, count * per_sequence)

        def aggregate():
            engine.clear()
            tokens = [engine.prefill(s, p) for s, p in enumerate(prompts)]
            steps = work["stream_decode_steps"]
            start = time.perf_counter()
            for step in range(steps):
                tokens = engine.decode([(s, len(p) + step, tokens[s], True) for s, p in enumerate(prompts)])
            return count * steps / (time.perf_counter() - start)

        figures[f"aggregate_{count}_tokens_per_s"] = median_of(repeats, aggregate)

    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
