#!/usr/bin/env bash
# Prints what the GPU machine has: GPU, driver, CUDA libraries (cuBLAS, cuSPARSELt) and Python packages.
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
ls /usr/local/cuda/lib64 | grep -E 'libcublas|libcudart' | head
python3 - <<'PY'
import importlib, os, glob
for m in ["torch", "transformers", "tokenizers", "sentencepiece", "safetensors"]:
    try: print(m, importlib.import_module(m).__version__)
    except Exception as e: print(m, "missing", e)
import nvidia
for p in nvidia.__path__:
    for d in sorted(glob.glob(os.path.join(p, "*", "lib"))): print("nvidia lib dir:", d, os.listdir(d)[:6])
    for h in glob.glob(os.path.join(p, "cusparselt", "include", "*.h")): print("header:", h)
PY
h=$(python3 -c "import nvidia,glob,os;print(glob.glob(os.path.join(nvidia.__path__[0],'cusparselt','include','cusparseLt.h'))[0])" 2>/dev/null)
[ -n "$h" ] && grep -nE 'CUSPARSELT_VER_(MAJOR|MINOR|PATCH)' "$h" | head
