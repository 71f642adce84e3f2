#!/usr/bin/env bash
# Runs on the GPU machine (no Java, no Maven, no network; cwd = repo root; $OUT = output folder),
# from what scripts/device/pack.sh put into device-pack/:
#   bash scripts/device/run.sh [--pack DIR] [EXTRA ...]      (DIR: what pack.sh's PACK_DIR was; default device-pack)
# 1. unpacks the JDK to /tmp/jdk; sets TWOFOUR_CUDA_LIB_DIRS to /usr/local/cuda/lib64 and the
#    cuSPARSELt folder of the Python site-packages; installs the prebuilt CLI under cli/target;
# 2. ./twofour info; 3. the gpu-tagged tests of every module (JUnit console launcher);
# 4. each EXTRA in order: "main CLASS ARGS..." runs a Java main class on the full classpath, anything
#    else runs through bash (e.g. "./twofour bench gemm --preset llama2-7b --out \$OUT/bench").
# Everything is logged to $OUT/run.log; the JUnit XML report goes to $OUT/junit.xml. A summary
# table comes last. Exit status: non-zero when a test or an extra failed.
set -uo pipefail
root=$(pwd)
out=${OUT:-$root/device-out}
mkdir -p "$out"
exec > >(tee -a "$out/run.log") 2>&1
pack=$root/device-pack
if [[ ${1:-} == --pack ]]; then pack=$root/${2:?--pack needs a folder}; shift 2; fi
# jdk.txz (xz, smaller: the tree + carry must stay under 64 MiB) or jdk.tgz.
rm -rf /tmp/jdk
if [[ -f $pack/jdk.txz ]]; then
  if command -v xz >/dev/null; then tar xJf "$pack/jdk.txz" -C /tmp
  else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall("/tmp")' "$pack/jdk.txz"; fi
elif [[ -f $pack/jdk.tgz ]]; then
  tar xzf "$pack/jdk.tgz" -C /tmp
else
  echo "run.sh: $pack/jdk.txz or jdk.tgz is missing: run scripts/device/pack.sh first and carry that folder"; exit 2
fi
export JAVA_HOME=/tmp/jdk PATH=/tmp/jdk/bin:$PATH
export TWOFOUR_NO_BUILD=1 TWOFOUR_OUT=$out
if [[ -f $pack/cli/twofour-cli.jar ]]; then
  mkdir -p cli/target && rm -rf cli/target/lib cli/target/twofour-cli.jar
  cp "$pack/cli/twofour-cli.jar" cli/target/ && cp -r "$pack/cli/lib" cli/target/lib
fi

csl=$(python3 -c 'import nvidia.cusparselt as m, os; print(os.path.join(list(m.__path__)[0], "lib"))' 2>/dev/null || true)
if [[ -z $csl || ! -d $csl ]]; then
  csl=$(ls -d /opt/*/.venv/lib/python3*/site-packages/nvidia/cusparselt/lib /usr/local/lib/python3*/dist-packages/nvidia/cusparselt/lib \
        /usr/lib/python3/dist-packages/nvidia/cusparselt/lib 2>/dev/null | head -1)
fi
export TWOFOUR_CUDA_LIB_DIRS=/usr/local/cuda/lib64${csl:+:$csl}
echo "run.sh: TWOFOUR_CUDA_LIB_DIRS=$TWOFOUR_CUDA_LIB_DIRS"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,clocks.mem --format=csv 2>&1 || true

flags=(--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dtwofour.repo="$root" -Dtwofour.home="$root")
tests_cp=$(ls "$pack"/tests/*.jar 2>/dev/null | paste -sd: -)
libs_cp="$pack/cli/twofour-cli.jar:$pack/cli/lib/*:$pack/jars/*"
export TWOFOUR_CLASSPATH="$libs_cp:$tests_cp"
declare -a summary

echo "== ./twofour info"
./twofour info; rc=$?; summary+=("twofour info|$rc")

echo "== gpu-tagged tests"
console=$(ls "$pack"/test-lib/junit-platform-console-standalone-*.jar | head -1)
rm -rf /tmp/junit-reports
# The XML report needs the java.xml module; a JDK packed without it (to save space) gets the log only.
reports=()
java --list-modules 2>/dev/null | grep -q '^java.xml@' && reports=(--reports-dir /tmp/junit-reports)
java "${flags[@]}" -cp "$console:$tests_cp:$libs_cp" org.junit.platform.console.ConsoleLauncher execute \
  --scan-classpath "$tests_cp" --include-tag gpu ${TWOFOUR_JUNIT_ARGS:-} --include-engine junit-jupiter \
  "${reports[@]}" --details tree --disable-banner --disable-ansi-colors
rc=$?; summary+=("gpu tests|$rc")
cp /tmp/junit-reports/TEST-junit-jupiter.xml "$out/junit.xml" 2>/dev/null || true

n=0
for extra in "$@"; do
  n=$((n + 1))
  echo "== extra $n: $extra"
  if [[ $extra == main\ * ]]; then
    # shellcheck disable=SC2086
    java "${flags[@]}" -cp "$TWOFOUR_CLASSPATH" ${extra#main }
  elif [[ $extra == sanitize\ * ]]; then
    # shellcheck disable=SC2086
    compute-sanitizer --tool memcheck --print-limit 10 --error-exitcode 3 \
      java "${flags[@]}" -cp "$TWOFOUR_CLASSPATH" ${extra#sanitize }
  else
    bash -c "$extra"
  fi
  rc=$?; summary+=("extra $n: ${extra:0:60}|$rc")
done

echo "== summary"
status=0
for s in "${summary[@]}"; do
  printf '%-70s rc=%s\n' "${s%|*}" "${s##*|}"
  [[ ${s##*|} == 0 ]] || status=1
done
grep -E 'tests (successful|failed|skipped|aborted)' "$out/run.log" | tail -4
exit $status
