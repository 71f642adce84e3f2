#!/usr/bin/env python3
"""Checks that Hugging Face transformers loads checkpoints written by twofour's SafetensorsWriter
and computes the same logits as from the original checkpoint.

Run on the GPU machine (python3 with torch + transformers + safetensors; no network):

    python3 tools/goldens/check_hf_loads.py ORIGINAL_DIR WRITTEN_DIR [WRITTEN_DIR ...]

Each WRITTEN_DIR is a copy made by dev.twofour.model.CheckpointCopy (single model.safetensors or
shards + model.safetensors.index.json). For each one it
  1. opens every safetensors file with the `safetensors` package (format/metadata check),
  2. loads it with AutoModelForCausalLM.from_pretrained(dir, dtype=float16),
  3. compares every parameter of the state dict with the original's (must be bit-identical),
  4. runs one forward pass on fixed token ids (GPU if available) and compares the logits
     (must be bit-identical: same weights, same kernels).
Prints one JSON line per checkpoint and exits 1 if any check fails.
"""
import json
import os
import sys

import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM


def load(d):
    try:
        m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float16)
    except TypeError:  # transformers < 4.56 names the argument torch_dtype
        m = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float16)
    return m.eval()


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    orig_dir, written = sys.argv[1], sys.argv[2:]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    ref = load(orig_dir).to(device)
    vocab = ref.config.vocab_size
    ids = torch.randint(0, vocab, (2, 37), generator=torch.Generator().manual_seed(1234)).to(device)
    with torch.no_grad():
        ref_logits = ref(ids).logits.float()
    ref_state = {k: v.detach() for k, v in ref.state_dict().items()}
    ok_all = True
    for d in written:
        result = {"dir": d, "files": sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))}
        try:
            for f in result["files"]:
                with safe_open(os.path.join(d, f), framework="pt") as sf:
                    meta = sf.metadata() or {}
                    if meta.get("format") != "pt":
                        raise RuntimeError(f"{f}: metadata format is {meta.get('format')!r}, expected 'pt'")
                    for k in sf.keys():
                        sf.get_tensor(k)
            m = load(d).to(device)
            state = m.state_dict()
            diff_params = [k for k, v in ref_state.items()
                           if k not in state or state[k].shape != v.shape or not torch.equal(state[k], v)]
            with torch.no_grad():
                logits = m(ids).logits.float()
            max_abs = (logits - ref_logits).abs().max().item()
            result.update(params=len(state), differing_params=diff_params[:10], max_abs_logit_diff=max_abs,
                          logits_identical=bool(torch.equal(logits, ref_logits)))
            result["ok"] = not diff_params and result["logits_identical"]
        except Exception as e:  # report and go on with the next directory
            result.update(ok=False, error=f"{type(e).__name__}: {e}")
        ok_all &= result["ok"]
        print(json.dumps(result), flush=True)
    sys.exit(0 if ok_all else 1)


if __name__ == "__main__":
    main()
