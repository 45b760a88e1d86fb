#!/bin/bash
# Side-by-side depth and memory run of two ember binaries (e.g. main's and a branch's) on one
# model, one after the other in the same minutes (docs/performance.md, "Depth"):
#   bench/depth_compare.sh OLD_EMBER NEW_EMBER MODEL OUT_DIR
# OUT_DIR gets each command's stderr (timings, `/usr/bin/time` max RSS) and the bench JSON.
# NEW_EMBER must support `bench -d` and `--read-bandwidth`.
set -u
if [ $# -ne 4 ]; then
  echo "usage: $0 OLD_EMBER NEW_EMBER MODEL OUT_DIR" >&2
  exit 2
fi
OLD=$1 NEW=$2 M=$3 O=$4
mkdir -p "$O"
# A 4,096-token prompt for the Llama 3 vocabulary: random common English words.
python3 - "$O/prompt.txt" <<'PY'
import random, sys
random.seed(7)
words = ('the of and to in is was for on that with as by at from his her they which this be or '
         'are an were had have it not but one all their there been has more when who would will '
         'what if out so can no about into than them only other new some could time these two '
         'may then first any like now my such over its also after most made').split()
open(sys.argv[1], 'w').write(' '.join(random.choice(words) for _ in range(4094)) + '\n')
PY
date -u > "$O/start.txt"; uptime >> "$O/start.txt"
for kv in f16 q8_0; do
  for b in OLD NEW; do
    /usr/bin/time -f "maxrss_kb %M cpu_s %U+%S" "${!b}" run -m "$M" -f "$O/prompt.txt" -n 64 \
        -c 4300 -t 2 --ignore-eos --temp 0 --kv-type $kv > /dev/null 2> "$O/run-$kv-$b.err"
  done
done
for b in OLD NEW; do
  /usr/bin/time -f "maxrss_kb %M cpu_s %U+%S" "${!b}" bench -m "$M" -p 512 -n 64 -t 2 -r 2 --json \
      > "$O/bench-d0-$b.json" 2> "$O/bench-d0-$b.err"
done
/usr/bin/time -f "maxrss_kb %M cpu_s %U+%S" "$NEW" bench -m "$M" -p 512 -n 64 -d 4096 -t 2 -r 2 \
    --json --read-bandwidth > "$O/bench-d4096-NEW.json" 2> "$O/bench-d4096-NEW.err"
date -u > "$O/end.txt"; uptime >> "$O/end.txt"
