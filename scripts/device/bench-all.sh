#!/usr/bin/env bash
# The full measurement set behind docs/results/, on the GPU machine (device tool), in about 8 minutes:
#   here:   scripts/device/bench-pack.sh
#   device: kind nvidia-h100-x1, carry ["device-pack/bench"], timeout_s 600, command `bash scripts/device/bench-all.sh`
#   here:   scripts/results-import.sh /work/.device/N/results.tgz   (unpacks into docs/results/h100/, draws the PNGs)
# Runs, each in its own JVM under a time limit (a step that fails or runs out of time is reported, the rest go on):
#   bench decode   llama2-7b  fp16, dense vs 2:4, batch 1,8,32,64, prompt 128, 128 tokens per sequence
#   bench prefill  llama2-7b  fp16, dense vs 2:4, 512, 2048, 8192 tokens
#   bench decode   llama2-70b fp16, batch 1: dense is refused by the memory plan (~129 GiB), 2:4 (~74 GiB) runs; memory table
#   bench decode   llama2-13b fp16, dense vs 2:4, batch 1,8,32,64, prompt 128, 128 tokens per sequence
#   bench prefill  llama2-13b fp16, dense vs 2:4, 512, 2048, 8192 tokens
#   serve          llama2-7b dense then 2:4: total generated tokens/s at 1, 8, 32, 64 streaming clients (serve-load.sh),
#                  then again with the tuning file (serve-llama2-7b-fp16-tuned)
#   bench gemm     llama2-7b and llama2-70b linear shapes, fp16, M = 1, 16, 64, 256, 1024, 4096 (last: partial if out of time)
# Writes into $OUT (3 files): results.tgz (every report: JSON, CSV, Markdown; one folder per benchmark, plus env.txt),
# summary.md (environment, the exact commands, every Markdown table) and run.log (everything printed).
# BENCH_BUDGET_S (default 480) bounds the whole script; BENCH_PACK (default device-pack/bench) is where the pack is.
set -uo pipefail
root=$(pwd)
out=${OUT:-$root/device-out}
mkdir -p "$out"
exec > >(tee -a "$out/run.log") 2>&1
pack=${BENCH_PACK:-$root/device-pack/bench}
budget=${BENCH_BUDGET_S:-540}
start=$(date +%s)
[[ -f $pack/jdk.txz && -f $pack/cli/twofour-cli.jar ]] || { echo "bench-all.sh: $pack is incomplete: run scripts/device/bench-pack.sh and carry it"; exit 2; }

rm -rf /tmp/jdk
tar xJf "$pack/jdk.txz" -C /tmp 2>/dev/null ||
  python3 -c "import tarfile,sys; tarfile.open(sys.argv[1]).extractall('/tmp')" "$pack/jdk.txz" ||
  { echo "bench-all.sh: cannot unpack $pack/jdk.txz (no xz, no python3)"; exit 2; }
export JAVA_HOME=/tmp/jdk PATH=/tmp/jdk/bin:$PATH TWOFOUR_NO_BUILD=1
mkdir -p cli/target && rm -rf cli/target/lib cli/target/twofour-cli.jar
cp "$pack/cli/twofour-cli.jar" cli/target/ && cp -r "$pack/cli/lib" cli/target/lib
csl=$(python3 -c 'import nvidia.cusparselt as m, os; print(os.path.join(list(m.__path__)[0], "lib"))' 2>/dev/null || true)
if [[ -z $csl || ! -d $csl ]]; then
  csl=$(ls -d /opt/*/.venv/lib/python3*/site-packages/nvidia/cusparselt/lib /usr/local/lib/python3*/dist-packages/nvidia/cusparselt/lib 2>/dev/null | head -1)
fi
export TWOFOUR_CUDA_LIB_DIRS=/usr/local/cuda/lib64${csl:+:$csl}

res=/tmp/twofour-results
rm -rf "$res" && mkdir -p "$res"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv 2>&1
  ./twofour info 2>&1 | grep -v 'incubator modules'
} >"$res/env.txt"
cat "$res/env.txt"

declare -a summary commands
step() {  # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2; shift 2
  local left=$((budget - ($(date +%s) - start)))
  local t=$((limit < left ? limit : left))
  if ((t < 30)); then
    echo "== $name: skipped, ${left}s of the budget left"
    summary+=("| $name | skipped (out of time) | |")
    return
  fi
  echo "== $name (limit ${t}s): $*"
  commands+=("$*")
  local s=$(date +%s)
  timeout -k 10 "$t" "$@"
  local rc=$?
  local took=$(($(date +%s) - s))
  case $rc in 0) st=ok ;; 124|137) st="out of time (${t}s)" ;; *) st="failed (exit $rc)" ;; esac
  summary+=("| $name | $st | ${took}s |")
}

tf=./twofour
# Measured on the H100 (2026-11-21): decode 7b ~45 s and 13b ~75 s at 128 tokens, prefill ~30-40 s, 70B ~15 s, gemm
# ~5 s per (shape, M) with its cuSPARSELt sweep. gemm comes last and writes its report after each shape, so a gemm
# step that runs out of time still leaves the shapes it finished.
step "decode llama2-7b"   80 $tf bench decode --preset llama2-7b --dtype fp16 --batch 1,8,32,64 --prompt-len 128 --gen 128 --out "$res/decode-llama2-7b-fp16"
step "prefill llama2-7b"  60 $tf bench prefill --preset llama2-7b --dtype fp16 --lengths 512,2048,8192 --out "$res/prefill-llama2-7b-fp16"
sel=docs/results/h100/tuning/llama2-7b-fp16.tsv   # twofour tune's output on the H100 (its .log beside it)
step "decode llama2-7b tuned" 80 env TWOFOUR_JAVA_OPTS=-Dtwofour.cuda.selection=$sel $tf bench decode --preset llama2-7b --dtype fp16 --batch 1,8,32,64 --prompt-len 128 --gen 128 --out "$res/decode-llama2-7b-fp16-tuned"
step "prefill llama2-7b tuned" 60 env TWOFOUR_JAVA_OPTS=-Dtwofour.cuda.selection=$sel $tf bench prefill --preset llama2-7b --dtype fp16 --lengths 512,2048,8192 --out "$res/prefill-llama2-7b-fp16-tuned"
step "decode llama2-70b 2:4" 60 $tf bench decode --preset llama2-70b --dtype fp16 --sparse both --batch 1 --prompt-len 128 --gen 64 --reps 3 --out "$res/decode-llama2-70b-fp16"
step "decode llama2-13b" 110 $tf bench decode --preset llama2-13b --dtype fp16 --batch 1,8,32,64 --prompt-len 128 --gen 128 --out "$res/decode-llama2-13b-fp16"
step "prefill llama2-13b" 60 $tf bench prefill --preset llama2-13b --dtype fp16 --lengths 512,2048,8192 --out "$res/prefill-llama2-13b-fp16"
step "serve llama2-7b"   100 env SERVE_OUT="$res/serve-llama2-7b-fp16" bash scripts/device/serve-load.sh llama2-7b 128
step "serve llama2-7b tuned" 100 env TWOFOUR_JAVA_OPTS=-Dtwofour.cuda.selection=$sel SERVE_OUT="$res/serve-llama2-7b-fp16-tuned" bash scripts/device/serve-load.sh llama2-7b 128
step "gemm llama2-7b"    150 $tf bench gemm --preset llama2-7b --dtype fp16 --m 1,16,64,256,1024,4096 --out "$res/gemm-llama2-7b-fp16"
step "gemm llama2-70b"   120 $tf bench gemm --shapes 10240x8192,8192x8192,57344x8192,8192x28672 --dtype fp16 --m 1,16,64,256,1024,4096 --out "$res/gemm-llama2-70b-fp16"

{
  echo "# twofour results ($(sed -n 's/^date: //p' "$res/env.txt"))"
  echo
  echo '```'
  grep -v '^date' "$res/env.txt"
  echo '```'
  echo
  echo "| step | status | time |"
  echo "|---|---|---:|"
  printf '%s\n' "${summary[@]}"
  echo
  echo "Commands (TWOFOUR_CUDA_LIB_DIRS=$TWOFOUR_CUDA_LIB_DIRS):"
  echo
  for c in "${commands[@]}"; do echo "    ${c//$res\//RESULTS/}"; done
  for d in "$res"/*/; do
    for md in "$d"*.md; do
      [[ -f $md ]] || continue
      echo
      echo "## $(basename "$d") / $(basename "$md")"
      echo
      sed '1{/^# /d}' "$md"
    done
  done
} >"$res/summary.md"
cp "$res/summary.md" "$out/summary.md"
tar czf "$out/results.tgz" -C "$res" .
echo "== summary ($(( $(date +%s) - start ))s in all)"
printf '%s\n' "${summary[@]}"
ls -la "$out"
