#!/usr/bin/env python3
"""Reference outputs from Hugging Face transformers for the runtime tests.

Run on the GPU machine (python3 with torch + transformers; no network):
    python3 tools/goldens/make_runtime_goldens.py MODEL_DIR VALID_TXT OUT_DIR

Writes into OUT_DIR:
  logits-fp32.safetensors  per prompt i: "p{i}.ids" (int64 [T]) and "p{i}.logits" (fp32 [T][V]),
                           computed in fp32 on the CPU (exact fp32, no TF32).
  logits-fp16.safetensors  the same ids, logits of the fp16 model on the GPU (fp32 copies of fp16 values).
  greedy.json              5 prompts: ids, 48 greedy new ids (fp32, CPU; EOS does not stop: min_new_tokens=48).
  ppl.json                 perplexity on VALID_TXT with the DATA.md protocol, ctx 256, fp32 CPU and fp16 GPU.
The prompt ids are made by the model's own tokenizer with BOS (its post-processor adds <|begin_of_text|>).
"""
import json, math, sys, os, time
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from safetensors.torch import save_file

model_dir, valid_txt, out = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_num_threads(8)

PROMPTS = [
    "In the beginning God created",
    "The history of the city",
    "And the LORD said unto Moses,",
    "It was a dark and stormy night; the rain fell in torrents",
    "The results of the experiment show that",
    "Robert Boulter is an English film , television and theatre actor .",
]
tok = AutoTokenizer.from_pretrained(model_dir)
m32 = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
gpu = torch.cuda.is_available()
m16 = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float16).eval().to("cuda") if gpu else None

t32, t16 = {}, {}
with torch.no_grad():
    for i, p in enumerate(PROMPTS):
        ids = tok(p, return_tensors="pt").input_ids
        t32[f"p{i}.ids"] = ids[0].clone()
        t32[f"p{i}.logits"] = m32(ids).logits[0].float().contiguous()
        if gpu:
            t16[f"p{i}.ids"] = ids[0].clone()
            t16[f"p{i}.logits"] = m16(ids.cuda()).logits[0].float().cpu().contiguous()
save_file(t32, os.path.join(out, "logits-fp32.safetensors"), metadata={"prompts": json.dumps(PROMPTS)})
if gpu:
    save_file(t16, os.path.join(out, "logits-fp16.safetensors"), metadata={"prompts": json.dumps(PROMPTS)})

greedy = []
with torch.no_grad():
    for p in PROMPTS[:5]:
        ids = tok(p, return_tensors="pt").input_ids
        g = m32.generate(ids, do_sample=False, max_new_tokens=48, min_new_tokens=48,
                         attention_mask=torch.ones_like(ids), pad_token_id=1)
        new = g[0, ids.shape[1]:].tolist()
        greedy.append({"prompt": p, "ids": ids[0].tolist(), "new_ids": new,
                       "text": tok.decode(new)})
        if gpu:
            g16 = m16.generate(ids.cuda(), do_sample=False, max_new_tokens=48, min_new_tokens=48,
                               attention_mask=torch.ones_like(ids).cuda(), pad_token_id=1)
            greedy[-1]["new_ids_fp16_gpu"] = g16[0, ids.shape[1]:].tolist()
json.dump({"model": os.path.basename(model_dir.rstrip("/")), "max_new_tokens": 48,
           "note": "greedy, min_new_tokens=48 (EOS does not stop); ids include BOS", "cases": greedy},
          open(os.path.join(out, "greedy.json"), "w"), indent=1)

def ppl(model, device, ctx=256):
    text = open(valid_txt, encoding="utf-8").read()
    all_ids = []
    for part in text.split("\n\n"):
        if not part.strip():
            continue
        all_ids += [tok.bos_token_id] + tok(part, add_special_tokens=False).input_ids + [tok.eos_token_id]
    nll, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(all_ids), ctx):
            w = all_ids[s:s + ctx + 1]
            if len(w) < 2:
                continue
            x = torch.tensor([w], device=device)
            lp = torch.log_softmax(model(x).logits[0, :-1].float(), dim=-1)
            nll -= lp.gather(1, x[0, 1:, None]).sum().item()
            n += len(w) - 1
    return math.exp(nll / n), n, len(all_ids)

res = {}
t = time.time(); v, n, total = ppl(m32, "cpu"); res["fp32_cpu"] = v; res["predicted_tokens"] = n; res["total_ids"] = total
res["fp32_seconds"] = time.time() - t
if gpu:
    res["fp16_gpu"] = ppl(m16, "cuda")[0]
json.dump(res, open(os.path.join(out, "ppl.json"), "w"), indent=1)
print(json.dumps(res))
print("wrote", sorted(os.listdir(out)))
