#!/usr/bin/env bash
# The server benchmarks of docs/performance.md ("Server"): each scenario starts a fresh
# `ember serve` (so no scenario finds another's prompts in the cache), runs ember_server_load
# with --json, and stops the server. Results: OUT/<scenario>.json and a summary on stdout.
# Usage: bench/server_load/run_server_bench.sh MODEL.gguf OUT_DIR [extra ember serve flags...]
# Defaults: --parallel 8 -t 2 -c 1024 (a request's context: ~700 prompt + 128 output tokens).
# ONLY="one-client eight" runs just the named scenarios; EMBER_BIN / LOAD_BIN pick the binaries.
set -euo pipefail
model="$1"
out="$2"
shift 2
root="$(cd "$(dirname "$0")/../.." && pwd)"
ember="${EMBER_BIN:-$root/build/release/ember}"
load="${LOAD_BIN:-$root/build/release/ember_server_load}"
mkdir -p "$out"

run_scenario() {
  local name="$1"
  shift
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return 0; fi
  local log="$out/$name.server.log"
  "$ember" serve -m "$model" --host 127.0.0.1 --port 0 --parallel 8 -t 2 -c 1024 "${SERVE_FLAGS[@]}" 2>"$log" &
  local pid=$!
  local port=""
  for _ in $(seq 1200); do
    port="$(sed -n 's|^ember: listening on http://[^ ]*:\([0-9][0-9]*\)$|\1|p' "$log" | head -1)"
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "ember serve exited:" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "no listening line" >&2; kill -9 "$pid"; return 1; }
  local rc=0
  echo "== $name: $*"
  "$load" --port "$port" --pid "$pid" --json-out "$out/$name.json" "$@" || rc=$?
  kill -TERM "$pid"
  wait "$pid" || true
  echo "   (exit code $rc)"
}

SERVE_FLAGS=("$@")
# The completions endpoint: the synthetic 1B model's chat replies are whitespace, which a chat
# reply does not stream, so only text completions show when each token arrives (TTFT, ITL).
# Throughput: 1 client vs 8 concurrent streaming clients, 128 tokens per request.
run_scenario one-client --endpoint completions --clients 1 --requests 2 --max-tokens 128
run_scenario eight --endpoint completions --clients 8 --requests 2 --max-tokens 128
# Time to first token with a ~700-token system prompt: shared by all 8 clients, or one each.
run_scenario unique700 --endpoint completions --clients 8 --requests 1 --unique-prefix 700 --max-tokens 16
run_scenario shared700 --endpoint completions --clients 8 --requests 1 --shared-prefix 700 --max-tokens 16
# Overload: 16 clients on 8 slots (the rest wait in the queue).
run_scenario sixteen --endpoint completions --clients 16 --requests 1 --max-tokens 128
