#!/usr/bin/env bash
# Latency of real-time single scoring (POST /v1/models/ID/score, `unseen score`) between two
# real nodes on loopback: trains a SecureBoost model on synthetic data (ROWS rows, 3 bank and 4
# partner features), then scores N applicants one after the other through the API (HTTP) and
# through the CLI (a process per score), and prints p50/p95/max of each.
#
# usage: bench/node_score.sh [N]            (default 50)
# env:   UNSEEN (binary, default target/release/unseen), TREES (default 100), DEPTH (5),
#        ROWS (2000)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
UNSEEN=${UNSEEN:-$ROOT/target/release/unseen}
N=${1:-50}; TREES=${TREES:-100}; DEPTH=${DEPTH:-5}; ROWS=${ROWS:-2000}
[ -x "$UNSEEN" ] || { echo "build first: cargo build --release (looked for $UNSEEN)" >&2; exit 2; }
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PA=$(port); PB=$(port); QA=$(port); QB=$(port)
U() { "$UNSEEN" "$@"; }
python3 - "$W" "$ROWS" <<'PY'
import random, sys
w, n = sys.argv[1], int(sys.argv[2])
random.seed(7)
with open(f"{w}/g.csv", "w") as g, open(f"{w}/h.csv", "w") as h:
    g.write("id,label,g0,g1,g2\n"); h.write("id,h0,h1,h2,h3\n")
    for i in range(n):
        a = [random.random() * 10 for _ in range(3)]; b = [random.random() * 10 for _ in range(4)]
        y = int(a[0] + b[0] + random.random() * 3 > 11)
        g.write(f"c{i},{y},{a[0]:.3f},{a[1]:.3f},{a[2]:.3f}\n")
        h.write(f"c{i},{b[0]:.3f},{b[1]:.3f},{b[2]:.3f},{b[3]:.3f}\n")
PY
U init --dir "$W/A" --name bank-a --listen 127.0.0.1:$PA --api 127.0.0.1:$QA >/dev/null
U init --dir "$W/B" --name data-b --listen 127.0.0.1:$PB --api 127.0.0.1:$QB >/dev/null
U --dir "$W/A" node export-cert > "$W/a.pem"; U --dir "$W/B" node export-cert > "$W/b.pem"
U --dir "$W/A" partner add --name data-b --address 127.0.0.1:$PB --cert "$W/b.pem" >/dev/null
U --dir "$W/B" partner add --name bank-a --address 127.0.0.1:$PA --cert "$W/a.pem" >/dev/null
U --dir "$W/A" dataset add --name applicants --path "$W/g.csv" --key id --key-type string >/dev/null
U --dir "$W/B" dataset add --name features --path "$W/h.csv" --key id --key-type string >/dev/null
U --dir "$W/A" policy allow --dataset applicants --partner data-b --job train --receivers both >/dev/null
U --dir "$W/B" policy allow --dataset features --partner bank-a --job train --receivers both >/dev/null
U --dir "$W/B" policy allow --dataset features --partner bank-a --job predict --receivers both >/dev/null
# Started directly (not through U) so that $! is the daemon itself and the trap stops it.
"$UNSEEN" --dir "$W/A" node run 2>"$W/A.log" & PIDS+=($!)
"$UNSEEN" --dir "$W/B" node run 2>"$W/B.log" & PIDS+=($!)
for q in $QA $QB; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$q/healthz" >/dev/null && break; sleep 0.1; done
done
JOB=$(U --dir "$W/A" train secureboost --partner data-b --dataset applicants --peer-dataset features \
  --label label --trees "$TREES" --depth "$DEPTH" --bins 32 --wait | tail -1)
M=$(U --dir "$W/A" job show "$JOB" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["model_id"])')
python3 - "$UNSEEN" "$W/A" "$M" "$(cat "$W/A/api.token")" "$QA" "$N" "$ROWS" "$TREES" <<'PY'
import json, subprocess, sys, time, urllib.request
u, d, m, tok, port, n, rows, trees = sys.argv[1:]
n, rows = int(n), int(rows)
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
api, cli = [], []
for i in range(n):
    body = json.dumps({"key": f"c{i * 37 % rows}", "features": {"g0": 1.5, "g1": 2.5, "g2": 3.5}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/{m}/score", data=body,
        headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    t = time.perf_counter(); json.load(urllib.request.urlopen(req)); api.append((time.perf_counter() - t) * 1e3)
for i in range(n):
    t = time.perf_counter()
    subprocess.run([u, "--dir", d, "score", "--model", m, "--key", f"c{i * 41 % rows}",
        "--feature", "g0=1.5", "--feature", "g1=2.5", "--feature", "g2=3.5"], check=True, capture_output=True)
    cli.append((time.perf_counter() - t) * 1e3)
for name, v in (("api", api), ("cli", cli)):
    print(json.dumps({"bench": "node_score", "via": name, "trees": int(trees), "rows": rows, "n": n,
        "p50_ms": round(pct(v, 50), 2), "p95_ms": round(pct(v, 95), 2), "max_ms": round(max(v), 2)}))
PY
