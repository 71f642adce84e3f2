#!/usr/bin/env bash
# Packs what the GPU machine needs into ONE git-ignored folder, device-pack/, for the device tool's
# `carry`: a jlinked JDK 25 (jdk.tgz), the CLI jar + its runtime libraries (every module jar, the
# kernels jar with the fatbin inside), each module's test classes as a jar, and the JUnit console
# launcher. The GPU machine has no Java, no Maven and no network; scripts/device/run.sh uses this.
#   scripts/device/pack.sh            build (tests compiled, not run) and pack
# Environment (all optional):
#   BUILD_SUFFIX=-mine   build in module/target-mine (default: -device)
#   PACK_DIR=device-pack/mine   where to pack (default: device-pack; must be git-ignored)
#   PACK_TESTS="native kernels" which modules' test jars to take (default: all that have tests)
#   PACK_EXCLUDE_LIBS=REGEX   leave out runtime libraries whose file name matches (to save space)
#   PACK_XZ=0                 store the JDK as jdk.tgz (zip-compressed jlink image) instead of the default
#                             jdk.txz (uncompressed jlink image, xz'd: ~14 MB instead of ~23-28 MB, ~1 min of CPU)
#   PACK_JDK_MODULES=a,b,c    modules of the jlinked JDK (default: what the tests, the CLI and the server need;
#                             the least for GPU tests + benchmarks: java.base,java.logging,jdk.incubator.vector,
#                             jdk.unsupported,jdk.zipfs — without java.xml there is no JUnit XML report, only the log)
# The device tool sends the tracked + untracked tree AND the carry, 64 MiB in all: watch the size line.
# Then: device tool `run` with carry ["device-pack"] (or your PACK_DIR) and command
#   `bash scripts/device/run.sh [--pack DIR] [EXTRA...]`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
suffix=${BUILD_SUFFIX:--device}
junit_console=org.junit.platform:junit-platform-console-standalone:1.11.4   # matches junit 5.11.4
pack=$root/${PACK_DIR:-device-pack}
tests_wanted=${PACK_TESTS:-native kernels model-loader runtime pruner bench server cli}
exclude_libs=${PACK_EXCLUDE_LIBS:-}
jdk_modules=${PACK_JDK_MODULES:-java.base,java.logging,java.management,java.xml,java.net.http,jdk.httpserver,jdk.unsupported,jdk.incubator.vector,jdk.zipfs}

if [[ -z ${JAVA_HOME:-} ]] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q 'version "2[5-9]'; then
  export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
fi
command -v mvn >/dev/null || { echo "pack.sh: mvn not found" >&2; exit 1; }

echo "pack.sh: building (target$suffix, tests compiled but not run)..."
# --fail-at-end: a module that does not compile (someone mid-edit) skips its dependents, the rest is packed.
build_ok=1
mkdir -p "$pack"
buildlog=$pack/build.log
rm -rf "cli/target$suffix/lib"  # copy-dependencies never deletes: no stale library versions in the pack
mvn -B -q -o -Dbuild.suffix="$suffix" -DskipTests --fail-at-end package >"$buildlog" 2>&1 || build_ok=0
if [[ $build_ok == 0 ]]; then
  echo "pack.sh: WARNING: the build failed for some modules (log: $buildlog); packing what was built:" >&2
  grep -E '^\[ERROR\]' "$buildlog" | head -15 >&2 || true
fi

rm -rf "$pack/cli" "$pack/tests" "$pack/jars"
mkdir -p "$pack/cli" "$pack/tests" "$pack/jars" "$pack/test-lib"
if [[ -f cli/target$suffix/twofour-cli.jar ]]; then
  cp cli/target$suffix/twofour-cli.jar "$pack/cli/"
  mkdir -p "$pack/cli/lib"
  for j in cli/target"$suffix"/lib/*.jar; do
    if [[ -n $exclude_libs ]] && [[ $(basename "$j") =~ $exclude_libs ]]; then continue; fi
    cp "$j" "$pack/cli/lib/"
  done
else
  echo "pack.sh: WARNING: no cli/target$suffix/twofour-cli.jar: ./twofour will not run on the device" >&2
  # Module jars on their own, so the tests still run.
  for m in native kernels model-loader runtime pruner bench server; do
    for j in "$m"/target"$suffix"/twofour-*.jar; do [[ -f $j && $j != *-tests.jar ]] && cp "$j" "$pack/jars/"; done
  done
fi
for m in $tests_wanted; do
  tc=$m/target$suffix/test-classes
  if [[ -d $tc ]] && [[ -n $(find "$tc" -name '*.class' -print -quit) ]]; then
    "$JAVA_HOME/bin/jar" cf "$pack/tests/$m-tests.jar" -C "$tc" .
  fi
done
# Runtime dependencies of the modules (Jackson, picocli, ...) when the CLI's lib/ is missing.
if [[ ! -d $pack/cli/lib ]]; then
  mvn -B -q -o -Dbuild.suffix="$suffix" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$pack/jars" -DexcludeGroupIds=dev.twofour >/dev/null 2>&1 || true
fi

if [[ -z $(ls "$pack/test-lib"/junit-platform-console-standalone-*.jar 2>/dev/null) ]]; then
  mvn -B -q -o dependency:copy -Dartifact=$junit_console -DoutputDirectory="$pack/test-lib" >/dev/null 2>&1 ||
    mvn -B -q dependency:copy -Dartifact=$junit_console -DoutputDirectory="$pack/test-lib"
fi

# The JDK changes rarely and jlink is slow: made once, kept until device-pack/jdk.tgz is deleted.
if [[ ! -f $pack/jdk.tgz && ! -f $pack/jdk.txz ]] || [[ $(cat "$pack/jdk.modules" 2>/dev/null) != "$jdk_modules" ]]; then
  rm -rf "$pack/jdk.tmp" && mkdir -p "$pack/jdk.tmp"
  rm -f "$pack/jdk.tgz" "$pack/jdk.txz"
  if [[ ${PACK_XZ:-1} != 0 ]]; then
    # xz compresses an uncompressed image far better than gzip does a zip-compressed one.
    "$JAVA_HOME/bin/jlink" --add-modules "$jdk_modules" --strip-debug --no-header-files --no-man-pages \
      --compress=zip-0 --output "$pack/jdk.tmp/jdk" 2>&1 | grep -v 'incubator modules' || true
    tar cf - -C "$pack/jdk.tmp" jdk | xz -6 -T2 >"$pack/jdk.txz"
  else
    "$JAVA_HOME/bin/jlink" --add-modules "$jdk_modules" --strip-debug --no-header-files --no-man-pages \
      --compress=zip-9 --output "$pack/jdk.tmp/jdk" 2>&1 | grep -v 'incubator modules' || true
    tar czf "$pack/jdk.tgz" -C "$pack/jdk.tmp" jdk
  fi
  rm -rf "$pack/jdk.tmp"
  echo "$jdk_modules" >"$pack/jdk.modules"
fi

rm -f "$buildlog.keep"
size_pack=$(( $(du -sb --exclude=build.log "$pack" | cut -f1) >> 20 ))
size_tree=$(( $( (git ls-files -z; git ls-files -z --others --exclude-standard) | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1) >> 20 ))
echo "pack.sh: $pack is ${size_pack} MiB; the tree that travels (tracked + untracked) ~${size_tree} MiB; the device tool takes 64 MiB in all"
if (( size_pack + size_tree > 62 )); then echo "pack.sh: WARNING: over the 64 MiB limit: use PACK_TESTS / PACK_EXCLUDE_LIBS / PACK_JDK_MODULES" >&2; fi
[[ $build_ok == 1 ]]
