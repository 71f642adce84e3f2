#!/usr/bin/env bash
# Brings the GPU measurements of scripts/device/bench-all.sh into the repository:
#   scripts/device/bench-import.sh /work/.device/N/results.tgz [DEST]      (DEST default: docs/results/h100)
# unpacks results.tgz into DEST (replacing it), draws the PNGs from the JSON files (the GPU machine's small JDK has
# no java.desktop, so they are drawn here), and writes DEST/headline.md (the README's tables, `twofour bench summary`).
set -euo pipefail
tgz=${1:?usage: bench-import.sh RESULTS_TGZ [DEST]}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest=${2:-$root/docs/results/h100}
[[ -f $tgz ]] || { echo "bench-import.sh: no such file: $tgz" >&2; exit 2; }
rm -rf "$dest" && mkdir -p "$dest"
tar xzf "$tgz" -C "$dest"
tf=${TWOFOUR:-$root/twofour}   # TWOFOUR=path/to/launcher to use another build
for d in "$dest"/*/; do
  d=${d%/}
  if [[ -f $d/decode.json ]]; then "$tf" bench decode --from "$d/decode.json" --out "$d" >/dev/null; fi
  if [[ -f $d/prefill.json ]]; then "$tf" bench prefill --from "$d/prefill.json" --out "$d" >/dev/null; fi
  if [[ -f $d/gemm.json ]]; then "$tf" bench gemm --from "$d/gemm.json" --out "$d" >/dev/null; fi
done
"$tf" bench summary "$dest" --out "$dest/headline.md"
echo "bench-import.sh: $(find "$dest" -type f | wc -l) files in $dest"
