#!/usr/bin/env bash
# Compiles kernels/src/main/cuda/twofour.cu (which includes every other .cuh there) into ONE fatbin
# with machine code for sm_80, sm_86, sm_89, sm_90 and compute_90 PTX for newer GPUs.
# Usage: build-fatbin.sh SRC_DIR OUT_FATBIN
# Called by Maven (kernels/pom.xml, generate-resources). nvcc is slow and CI has 2 cores, so the
# fatbin is rebuilt only when a .cu/.cuh is newer than it. Without nvcc the build still succeeds:
# one warning, no fatbin, and dev.twofour.kernels.Kernels reports "built without CUDA kernels".
# nvcc is looked up in $CUDA_HOME/bin, then PATH, then /usr/local/cuda/bin; TWOFOUR_NO_NVCC=1 skips it.
set -euo pipefail
src=${1:?usage: build-fatbin.sh SRC_DIR OUT_FATBIN}
out=${2:?usage: build-fatbin.sh SRC_DIR OUT_FATBIN}

nvcc=""
if [[ -n ${TWOFOUR_NO_NVCC:-} ]]; then :   # build as if there were no CUDA toolkit (tests the fallback)
elif [[ -n ${CUDA_HOME:-} && -x $CUDA_HOME/bin/nvcc ]]; then nvcc=$CUDA_HOME/bin/nvcc
elif command -v nvcc >/dev/null 2>&1; then nvcc=$(command -v nvcc)
elif [[ -x /usr/local/cuda/bin/nvcc ]]; then nvcc=/usr/local/cuda/bin/nvcc
fi
if [[ -z $nvcc ]]; then
  rm -f "$out"
  echo "WARNING: nvcc not found (CUDA_HOME=${CUDA_HOME:-unset}, PATH, /usr/local/cuda/bin): twofour-kernels is built without CUDA kernels; the CUDA backend will not run them" >&2
  exit 0
fi

archs_file="$out.archs"
if [[ -f $out ]] && [[ -z $(find "$src" \( -name '*.cu' -o -name '*.cuh' \) -newer "$out" -print -quit) ]] \
   && [[ $(cat "$archs_file" 2>/dev/null) == "${TWOFOUR_FATBIN_ARCHS:-80 86 89 90}" ]]; then
  exit 0   # up to date
fi

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# -lineinfo keeps profiler source mapping at no run-time cost; --no-compress keeps kernel names
# readable in the image (the CPU test checks them); -Xptxas -warn-spills reports register spills.
# TWOFOUR_FATBIN_ARCHS="90" builds machine code for fewer GPUs (the device pack, which must stay small, runs on an
# H100 only); the default covers Ampere to Hopper. compute_90 PTX is always added for newer GPUs.
gencode=()
for a in ${TWOFOUR_FATBIN_ARCHS:-80 86 89 90}; do gencode+=("-gencode=arch=compute_$a,code=sm_$a"); done
"$nvcc" -fatbin -O3 -std=c++17 -lineinfo --no-compress --threads 0 -Xptxas -warn-spills \
  "${gencode[@]}" -gencode=arch=compute_90,code=compute_90 \
  -I "$src" -o "$tmp" "$src/twofour.cu"
mv "$tmp" "$out"
echo "${TWOFOUR_FATBIN_ARCHS:-80 86 89 90}" >"$archs_file"
echo "build-fatbin.sh: wrote $out ($(stat -c %s "$out") bytes) with $nvcc"
