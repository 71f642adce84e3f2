#!/usr/bin/env bash
# Packs what the GPU machine needs into ONE git-ignored folder, device-pack/, for the device tool's
# `carry`: a jlinked JDK 25 (jdk.tgz), the CLI jar + its runtime libraries (every module jar, the
# kernels jar with the fatbin inside), each module's test classes as a jar, and the JUnit console
# launcher. The GPU machine has no Java, no Maven and no network; scripts/device/run.sh uses this.
#   scripts/device/pack.sh            build (tests compiled, not run) and pack
#   BUILD_SUFFIX=-mine scripts/device/pack.sh   build in module/target-mine (default: -device)
# Then: device tool `run` with carry ["device-pack"] and command `bash scripts/device/run.sh [EXTRA...]`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
suffix=${BUILD_SUFFIX:--device}
junit_console=org.junit.platform:junit-platform-console-standalone:1.11.4   # matches junit 5.11.4
pack=$root/device-pack

if [[ -z ${JAVA_HOME:-} ]] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q 'version "2[5-9]'; then
  export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
fi
command -v mvn >/dev/null || { echo "pack.sh: mvn not found" >&2; exit 1; }

echo "pack.sh: building (target$suffix, tests compiled but not run)..."
# --fail-at-end: a module that does not compile (someone mid-edit) skips its dependents, the rest is packed.
build_ok=1
mvn -B -q -o -Dbuild.suffix="$suffix" -DskipTests --fail-at-end package >"$root/device-pack.build.log" 2>&1 || build_ok=0
if [[ $build_ok == 0 ]]; then
  echo "pack.sh: WARNING: the build failed for some modules (log: device-pack.build.log); packing what was built:" >&2
  grep -E '^\[ERROR\]' "$root/device-pack.build.log" | head -15 >&2 || true
fi

rm -rf "$pack/cli" "$pack/tests" "$pack/jars"
mkdir -p "$pack/cli" "$pack/tests" "$pack/jars" "$pack/test-lib"
if [[ -f cli/target$suffix/twofour-cli.jar ]]; then
  cp cli/target$suffix/twofour-cli.jar "$pack/cli/"
  cp -r cli/target$suffix/lib "$pack/cli/lib"
else
  echo "pack.sh: WARNING: no cli/target$suffix/twofour-cli.jar: ./twofour will not run on the device" >&2
fi
for m in native kernels model-loader runtime pruner bench server cli; do
  # Module jars again on their own, so the tests run even when the CLI did not build.
  for j in "$m"/target"$suffix"/twofour-*.jar; do [[ -f $j ]] && cp "$j" "$pack/jars/"; done
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
if [[ ! -f $pack/jdk.tgz ]]; then
  bash /work/shared/device/make-jdk.sh "$pack"
fi

size_pack=$(du -sm "$pack" | cut -f1)
size_tree=$(git ls-files -z | du -cm --files0-from=- 2>/dev/null | tail -1 | cut -f1)
echo "pack.sh: device-pack is ${size_pack} MiB; tracked tree ~${size_tree} MiB; the device tool takes 64 MiB in all"
if (( size_pack + size_tree > 60 )); then echo "pack.sh: WARNING: close to or over the 64 MiB limit" >&2; fi
[[ $build_ok == 1 ]]
