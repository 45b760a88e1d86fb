#!/usr/bin/env python3
"""Embedding throughput through `ember serve` (docs/performance.md, "Embeddings").

Starts `ember serve -m MODEL -t THREADS`, then CLIENTS concurrent clients each POST /v1/embeddings
requests of INPUTS texts of about WORDS words (~90 tokens with a BERT vocabulary) for SECONDS,
and prints the embedded tokens per second (usage.prompt_tokens summed over completed requests)
and per CPU-second of the server process (a measure that holds on a busy, shared host: with
THREADS threads on an idle machine the rate is at most THREADS times it).

Usage: embed_load.py MODEL [--ember PATH] [--clients 4] [--inputs 32] [--words 70]
                     [--seconds 20] [--threads 2] [--batch-tokens N]
"""
import argparse
import http.client
import os
import json
import random
import re
import subprocess
import sys
import threading
import time

WORDS = ("the of and to in is was for on as with by he at from his an were are which this be "
         "or has had first one their its new after who they have her she two been other when "
         "there all during into school time may years more most only over city some world would "
         "where later up such used many can state about national out known university united "
         "then made county team american group government film while these year three under "
         "being south system north people including number season song series album music "
         "history river development research language water energy model network data paris "
         "france capital population europe century war president company").split()


def make_text(rng, n_words):
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--ember", default="build/release/ember")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--inputs", type=int, default=32)
    ap.add_argument("--words", type=int, default=70)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-tokens", type=int, default=0,
                    help="ember serve --batch-tokens (0: the server's default)")
    a = ap.parse_args()

    cmd = [a.ember, "serve", "-m", a.model, "--host", "127.0.0.1", "--port", "0",
           "-t", str(a.threads)]
    if a.batch_tokens > 0:
        cmd += ["--batch-tokens", str(a.batch_tokens)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    port = None
    for line in proc.stderr:
        m = re.match(r"^ember: listening on http://[^ ]*:(\d+)\s*$", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        print("server did not start", file=sys.stderr)
        return 1
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()

    stop = time.monotonic() + a.seconds
    totals = {"tokens": 0, "requests": 0, "errors": 0}
    lock = threading.Lock()

    def client(seed):
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while time.monotonic() < stop:
            body = json.dumps({"input": [make_text(rng, a.words) for _ in range(a.inputs)]})
            conn.request("POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            with lock:
                if r.status == 200:
                    totals["tokens"] += json.loads(data)["usage"]["prompt_tokens"]
                    totals["requests"] += 1
                else:
                    totals["errors"] += 1

    # One warm-up request (creates the embedding engine).
    warm = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    warm.request("POST", "/v1/embeddings", json.dumps({"input": ["warm up"]}))
    warm.getresponse().read()
    def cpu_seconds():
        # utime + stime of the server process (fields 14 and 15 of /proc/PID/stat), in seconds.
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    cpu0 = cpu_seconds()
    t0 = time.monotonic()
    stop = t0 + a.seconds
    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds() - cpu0
    proc.terminate()
    proc.wait(timeout=30)
    print(json.dumps({"model": a.model, "clients": a.clients, "inputs_per_request": a.inputs,
                      "requests": totals["requests"], "errors": totals["errors"],
                      "tokens": totals["tokens"], "seconds": round(elapsed, 2),
                      "tokens_per_second": round(totals["tokens"] / elapsed, 1),
                      "server_cpu_seconds": round(cpu, 2),
                      "tokens_per_cpu_second": round(totals["tokens"] / max(cpu, 1e-9), 1),
                      "tokens_per_input": round(totals["tokens"] / max(1, totals["requests"] * a.inputs), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
