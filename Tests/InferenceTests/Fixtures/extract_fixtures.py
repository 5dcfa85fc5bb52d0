#!/usr/bin/env python3
"""Copies what the inference tests need from the shared SmolLM2 reference fixtures.

Usage: extract_fixtures.py SHARED_DIR   (e.g. ../shared/fixtures/smollm2)

Writes, next to this script:
  expected.json              - copied verbatim (prompts, token ids, greedy continuations)
  base-logits.safetensors    - only the base model's `base.p<i>.logits_{first,last}` tensors,
                               re-packed without changing a byte of their data
Standard library only, so it runs anywhere Python 3 does.
"""
import json
import shutil
import struct
import sys
from pathlib import Path


def main() -> None:
    shared = Path(sys.argv[1])
    here = Path(__file__).resolve().parent
    shutil.copyfile(shared / "expected.json", here / "expected.json")

    with open(shared / "expected.safetensors", "rb") as source:
        header_length = struct.unpack("<Q", source.read(8))[0]
        header = json.loads(source.read(header_length))
        data = source.read()

    names = sorted(name for name in header if name.startswith("base."))
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
    with open(here / "base-logits.safetensors", "wb") as target:
        target.write(struct.pack("<Q", len(encoded)))
        target.write(encoded)
        for blob in blobs:
            target.write(blob)
    print(f"wrote expected.json and {len(names)} tensors to base-logits.safetensors")


if __name__ == "__main__":
    main()
