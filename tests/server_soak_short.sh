#!/usr/bin/env bash
# A shortened soak of `ember serve` (CTest label "soak", < 60 s): ember_server_load --soak with 16
# clients, random parameters and random disconnects, for at most 30 s, against the tiny chat
# model; fails on any transport error, 5xx, SSE error event, invalid reply, busy slot at the end,
# or a dead server. The full soak (64 clients x 2,000 requests) is a benchmark: docs/server.md.
# Usage: server_soak_short.sh EMBER_BIN LOAD_BIN   (EMBER_TESTDATA or EMBER_DEFAULT_TESTDATA set)
set -uo pipefail
ember="$1"
load="$2"
data="${EMBER_TESTDATA:-${EMBER_DEFAULT_TESTDATA:-}}"
model="$data/models/qwen2-q8_0.gguf"
if [ ! -f "$model" ]; then
  if [ "${CI:-}" = "true" ]; then echo "soak: test model missing: $model" >&2; exit 1; fi
  echo "soak skipped: test model not found ($model); set EMBER_TESTDATA" >&2
  exit 77
fi
log="$(mktemp)"
"$ember" serve -m "$model" --host 127.0.0.1 --port 0 --parallel 4 -c 1024 -t 2 2>"$log" &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -f "$log"
}
trap cleanup EXIT
port=""
for _ in $(seq 600); do
  port="$(sed -n 's|^ember: listening on http://[^ ]*:\([0-9][0-9]*\)$|\1|p' "$log" | head -1)"
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "soak: ember serve exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "soak: no listening line in 60 s:" >&2; cat "$log" >&2; exit 1; }
"$load" --port "$port" --soak --clients 16 --requests 100000 --duration-s 30 --timeout-s 20 --pid "$pid"
rc=$?
if ! kill -0 "$pid" 2>/dev/null; then
  echo "soak: ember serve is not running any more; its log:" >&2
  tail -50 "$log" >&2
  exit 1
fi
exit $rc
