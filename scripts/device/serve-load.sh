#!/usr/bin/env bash
# On the GPU machine, after scripts/device/run.sh or bench-all.sh has installed the CLI under cli/target:
# serves synthetic llama2-7b (dense, then 2:4) and measures total generated tokens/s at 1, 8, 32 and 64
# concurrent streaming clients with dev.twofour.server.LoadGenerator. Usage: serve-load.sh [PRESET] [MAX_TOKENS]
set -uo pipefail
preset=${1:-llama2-7b}
max_tokens=${2:-128}
port=8123
mkdir -p "${SERVE_OUT:-/tmp}"
report=${SERVE_OUT:-/tmp}/serve-load.md  # LoadGenerator's tables, dense then 2:4
: > "$report"
for variant in dense 2:4; do
  flags=(serve --preset "$preset" --backend cuda --max-batch 64 --max-context 1024 --port "$port")
  [[ $variant == 2:4 ]] && flags+=(--sparse)
  ./twofour "${flags[@]}" > /tmp/serve-$$.log 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
      "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || break
    sleep 1
  done
  echo "== serve-load: $preset $variant" | tee -a "$report"
  java --enable-native-access=ALL-UNNAMED -cp "${TWOFOUR_CLASSPATH:-cli/target/twofour-cli.jar:cli/target/lib/*}" dev.twofour.server.LoadGenerator \
    --url "http://127.0.0.1:$port" --clients 1,8,32,64 --max-tokens "$max_tokens" --rounds 1 | tee -a "$report"
  rc=${PIPESTATUS[0]}
  kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
  tail -3 /tmp/serve-$$.log
  [[ $rc == 0 ]] || exit $rc
done
