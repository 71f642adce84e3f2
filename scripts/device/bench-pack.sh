#!/usr/bin/env bash
# Makes device-pack/bench/ (git-ignored) for scripts/device/bench-all.sh: the CLI jar with only the libraries the
# benchmarks load (twofour-*, picocli, Jackson, XChart) and a jlinked JDK 25 runtime, uncompressed inside and xz'd
# outside (~14 MB instead of ~23 MB for a zip-compressed image). So it travels with the working tree under the
# device tool's 64 MiB limit: this prints both sizes.
#   scripts/device/bench-pack.sh          (BUILD_SUFFIX=-x to build in module/target-x; default -bench)
# Then: device tool `run`, kind nvidia-h100-x1, carry ["device-pack/bench"], command `bash scripts/device/bench-all.sh`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
if [[ -z ${JAVA_HOME:-} ]] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q 'version "2[5-9]'; then
  export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
fi
suffix=${BUILD_SUFFIX:--bench}
pack=$root/device-pack/bench
modules=java.base,java.logging,java.management,java.net.http,jdk.httpserver,jdk.unsupported,jdk.incubator.vector,jdk.zipfs  # http: serve-load.sh

echo "bench-pack.sh: building the CLI (target$suffix, no tests)..."
mvn -B -q -o -Dbuild.suffix="$suffix" -DskipTests -pl cli -am package
jar=cli/target$suffix/twofour-cli.jar
[[ -f $jar ]] || { echo "bench-pack.sh: $jar was not built" >&2; exit 1; }
if ! unzip -l "cli/target$suffix/lib/twofour-kernels-0.1.0-SNAPSHOT.jar" | grep -q twofour.fatbin; then
  echo "bench-pack.sh: the kernels jar has no fatbin (nvcc missing here?): the GPU benchmarks would not run" >&2; exit 1
fi

rm -rf "$pack/cli" && mkdir -p "$pack/cli/lib"
cp "$jar" "$pack/cli/"
for j in cli/target"$suffix"/lib/*.jar; do
  case $(basename "$j") in
    twofour-*|picocli-*|jackson-core-*|jackson-databind-*|jackson-annotations-*|xchart-*) cp "$j" "$pack/cli/lib/" ;;
  esac
done

if [[ ! -f $pack/jdk.txz ]] || [[ $(cat "$pack/jdk.modules" 2>/dev/null) != "$modules" ]]; then
  echo "bench-pack.sh: jlink ($modules)..."
  tmp=$(mktemp -d)
  "$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --output "$tmp/jdk" 2>&1 | grep -v 'incubator modules' || true
  tar cJf "$pack/jdk.txz" -C "$tmp" jdk
  rm -rf "$tmp"
  echo "$modules" >"$pack/jdk.modules"
fi

size_pack=$(( $(du -sb "$pack" | cut -f1) >> 20 ))
size_tree=$(( $( (git ls-files -z; git ls-files -z --others --exclude-standard) | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1) >> 20 ))
echo "bench-pack.sh: $pack is ${size_pack} MiB; the tree that travels ~${size_tree} MiB; together $((size_pack + size_tree)) of 64 MiB"
(( size_pack + size_tree <= 62 )) || { echo "bench-pack.sh: WARNING: over the device tool's limit" >&2; exit 1; }
