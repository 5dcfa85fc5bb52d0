#!/usr/bin/env python3
"""llama.cpp baseline for `tributary bench lora`.

Serves the bench's streams (token ids from the workload file, so both engines see identical
prompts) over their LoRA adapters (GGUF files the bench wrote, one per stream), choosing
tokens greedily. llama.cpp applies the adapters set on a context to every sequence of a
llama_decode call, so streams on different adapters cannot share a call. Each stream gets a
context of its own with its adapter set once (switching adapters on one shared context
costs far more: llama_set_adapters_lora re-plans the context's graph, about a second per
switch with room for 32 sequences on this machine), and each step decodes every stream
alone. The same streams without adapters, one batched call per step, are measured for
reference.

Prints one JSON object:
  base_tokens_per_s   N streams, no adapter, one llama_decode per step for all of them
  lora_tokens_per_s   N streams, stream i on its own context with adapter i, one llama_decode per stream per step
  adapter_load_ms     median time of llama_adapter_lora_init over the N files
  lora_tokens         each adapter stream's greedy tokens (after the prompt, then one per step)
Throughputs are medians of `repeats` runs. Usage:
  llama_cpp_lora_baseline.py --model FILE --threads N --workload FILE.json
"""
import ctypes
import json
import statistics
import sys
import time

import llama_cpp

from llama_cpp_baseline import Engine, arguments_and_workload, median_of


def main():
    args, work = arguments_and_workload()
    prompts, steps, repeats = work["stream_prompts"], work["stream_decode_steps"], work["repeats"]
    count = len(prompts)
    engine = Engine(args.model, args.threads, count, count * (max(len(p) for p in prompts) + steps + 8))

    load_seconds, contexts = [], []
    scale = (ctypes.c_float * 1)(1.0)
    for path, prompt in zip(work["adapters"], prompts):
        start = time.perf_counter()
        adapter = llama_cpp.llama_adapter_lora_init(Engine.model, path.encode())
        load_seconds.append(time.perf_counter() - start)
        if not adapter:
            sys.exit(f"llama.cpp could not load the adapter {path}")
        context = Engine(args.model, args.threads, 1, len(prompt) + steps + 8)
        if llama_cpp.llama_set_adapters_lora(context.context, (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter), 1, scale) != 0:
            sys.exit("llama_set_adapters_lora failed")
        contexts.append(context)

    def base():
        engine.clear()
        tokens = [engine.prefill(s, p) for s, p in enumerate(prompts)]
        start = time.perf_counter()
        for step in range(steps):
            tokens = engine.decode([(s, len(p) + step, tokens[s], True) for s, p in enumerate(prompts)])
        return count * steps / (time.perf_counter() - start)

    generated = []

    def lora():
        tokens = []
        for context, p in zip(contexts, prompts):
            context.clear()
            tokens.append(context.prefill(0, p))
        history = [[t] for t in tokens]
        start = time.perf_counter()
        for step in range(steps):
            for s, (context, p) in enumerate(zip(contexts, prompts)):
                tokens[s] = context.decode([(0, len(p) + step, tokens[s], True)])[0]
                history[s].append(tokens[s])
        seconds = time.perf_counter() - start
        generated[:] = history
        return count * steps / seconds

    figures = {
        "engine": "llama.cpp (llama-cpp-python %s)" % llama_cpp.__version__,
        "threads": args.threads,
        "base_tokens_per_s": median_of(repeats, base),
        "lora_tokens_per_s": median_of(repeats, lora),
        "adapter_load_ms": statistics.median(load_seconds) * 1000,
    }
    figures["lora_tokens"] = generated
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
