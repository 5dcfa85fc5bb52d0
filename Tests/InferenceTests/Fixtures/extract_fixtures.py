#!/usr/bin/env python3
"""Copies what the inference tests need from the shared SmolLM2 reference fixtures.

Usage: extract_fixtures.py SHARED_DIR   (e.g. ../shared/fixtures/smollm2)

Writes, next to this script:
  expected.json              - copied verbatim (prompts, token ids, greedy continuations)
  base-logits.safetensors    - only the base model's `base.p<i>.logits_{first,last}` tensors,
                               re-packed without changing a byte of their data
  adapter-logits.safetensors - the adapters' `<adapter>.p<i>.logits_last` tensors, likewise
  adapter-gradients.safetensors - the adapters' `<adapter>.p0.loss` and `<adapter>.grad.*`
                               tensors (the LoRA gradients of prompt 0's loss), likewise
  adapters/<name>/           - the PEFT adapters; a file over PART_BYTES is cut into
                               `<file>.part0`, `.part1`, … of at most PART_BYTES each (the
                               repository takes no file over 10 MB); the tests join them again
Standard library only, so it runs anywhere Python 3 does.
"""
import json
import shutil
import struct
import sys
from pathlib import Path

PART_BYTES = 8 * 1024 * 1024


def repack(header, data, names, target: Path) -> None:
    out_header, blobs, offset = {}, [], 0
    for name in names:
        entry = header[name]
        begin, end = entry["data_offsets"]
        blob = data[begin:end]
        out_header[name] = {"dtype": entry["dtype"], "shape": entry["shape"], "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    encoded = json.dumps(out_header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(target, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)))
        handle.write(encoded)
        for blob in blobs:
            handle.write(blob)


def copy_split(source: Path, target_dir: Path) -> None:
    data = source.read_bytes()
    for old in target_dir.glob(source.name + "*"):
        old.unlink()
    if len(data) <= PART_BYTES:
        (target_dir / source.name).write_bytes(data)
        return
    for index, start in enumerate(range(0, len(data), PART_BYTES)):
        (target_dir / f"{source.name}.part{index}").write_bytes(data[start:start + PART_BYTES])


def main() -> None:
    shared = Path(sys.argv[1])
    here = Path(__file__).resolve().parent
    shutil.copyfile(shared / "expected.json", here / "expected.json")
    adapters = json.loads((shared / "expected.json").read_text())["adapters"]

    with open(shared / "expected.safetensors", "rb") as source:
        header_length = struct.unpack("<Q", source.read(8))[0]
        header = json.loads(source.read(header_length))
        data = source.read()

    base = sorted(name for name in header if name.startswith("base."))
    repack(header, data, base, here / "base-logits.safetensors")
    adapter_logits = sorted(name for name in header if name.split(".")[0] in adapters and name.endswith(".logits_last"))
    repack(header, data, adapter_logits, here / "adapter-logits.safetensors")
    gradients = sorted(name for name in header if name.split(".")[0] in adapters and (".grad." in name or name.endswith(".loss")))
    repack(header, data, gradients, here / "adapter-gradients.safetensors")

    for adapter in adapters:
        target = here / "adapters" / adapter
        target.mkdir(parents=True, exist_ok=True)
        for file in sorted((shared / "adapters" / adapter).iterdir()):
            copy_split(file, target)
    print(f"wrote expected.json, {len(base)} base and {len(adapter_logits)} adapter logit tensors, "
          f"{len(gradients)} loss and gradient tensors, {len(adapters)} adapters")


if __name__ == "__main__":
    main()
