#!/usr/bin/env bash
# Side-by-side ECDH-PSI benchmark: `unseen psi` (two processes, CSV in, CSV out) and the peers of
# ../shared/bench/psi (SecretFlow ECDH-25519 / ECDH-SM2 from the `spu` wheel, openmined-psi) on
# the very same generated files, in one run on one machine.
#
# usage: bench/psi_compare.sh [SPEC ...]      SPEC = PEER:LOGN[:REPS], PEER one of
#        unseen-r255 | unseen-r255-portable | unseen-sm2 | ecdh-25519 | ecdh-sm2 | openmined
# default: the issue's matrix (2^16, 2^18, 2^20; SM2 peer at 2^16 and 2^18; 3 reps).
# env:   UNSEEN (binary, default target/release/unseen), PEER_BENCH (peer_bench.sh path),
#        PEER_BENCH_WORK (peers' venv and data), OUT (JSON lines, default bench/out/psi.jsonl)
# Prints one JSON line per run; `bench/summarize.py OUT` makes the BENCHMARKS.md table.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
UNSEEN=${UNSEEN:-$ROOT/target/release/unseen}
PEER_BENCH=${PEER_BENCH:-$ROOT/../shared/bench/psi/peer_bench.sh}
OUT=${OUT:-$HERE/out/psi.jsonl}
mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

[ -x "$UNSEEN" ] || { echo "build first: cargo build --release (looked for $UNSEEN)" >&2; exit 2; }

host_json() {
  python3 - <<'PY'
import json, re
m = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
flags = open("/proc/cpuinfo").read()
print(json.dumps({"cpu": m.group(1) if m else "?", "avx512ifma": " avx512ifma" in flags}))
PY
}

# The very files the peers read: the peer scripts' own generator and cache (PEER_BENCH_WORK/data).
files_for() {
  PEER_BENCH_WORK=${PEER_BENCH_WORK:-$(dirname "$PEER_BENCH")} python3 - "$1" "$(dirname "$PEER_BENCH")" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import psi_anchor as pa
print(*pa.dataset_paths(int(sys.argv[1])))
PY
}

run_unseen() {
  local curve=$1 logn=$2 a b exp port t0 t1
  read -r a b exp < <(files_for "$logn")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  t0=$(date +%s.%N)
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/tl" "$UNSEEN" psi --listen "127.0.0.1:$port" -i "$b" -k id \
    --key-type id-card -o "$WORK/ob.csv" --curve "$curve" --json >"$WORK/jl" 2>"$WORK/el" &
  local pl=$!
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/td" "$UNSEEN" psi --connect "127.0.0.1:$port" -i "$a" -k id \
    --key-type id-card -o "$WORK/oa.csv" --curve "$curve" --json >"$WORK/jd" 2>"$WORK/ed" || { cat "$WORK/ed" >&2; return 1; }
  wait $pl || { cat "$WORK/el" >&2; return 1; }
  t1=$(date +%s.%N)
  python3 - "$curve" "$logn" "$t0" "$t1" "$WORK" "$exp" <<'PY'
import json, sys
curve, logn, t0, t1, work, exp = sys.argv[1:]
jd = json.load(open(f"{work}/jd")); jl = json.load(open(f"{work}/jl"))
td = open(f"{work}/td").read().split(); tl = open(f"{work}/tl").read().split()
want = sorted(l.strip().upper() for l in open(exp) if l.strip())
def got(p): return sorted(l.split(",")[0].strip() for l in open(p).read().splitlines()[1:])
correct = got(f"{work}/oa.csv") == want and got(f"{work}/ob.csv") == want
oa = [l.split(",")[0] for l in open(f"{work}/oa.csv").read().splitlines()[1:]]
ob = [l.split(",")[0] for l in open(f"{work}/ob.csv").read().splitlines()[1:]]
print(json.dumps({
    "peer": "unseen", "protocol": f"ecdh-{curve}", "logn": int(logn),
    "wall_s": round(float(t1) - float(t0), 3),
    "cpu_s": round(float(td[1]) + float(td[2]) + float(tl[1]) + float(tl[2]), 3),
    "comm_bytes": jd["bytes_sent"] + jd["bytes_received"],
    "max_rss_mib": [round(int(td[3]) / 1024, 1), round(int(tl[3]) / 1024, 1)],
    "intersection": jd["intersection"], "correct": correct and oa == ob,
}))
PY
}

run_peer() {
  local proto=$1 logn=$2
  "$PEER_BENCH" "$proto" "$logn" | tail -1
}

specs=("$@")
if [ ${#specs[@]} -eq 0 ]; then
  specs=(unseen-r255:16:3 ecdh-25519:16:3 unseen-sm2:16:3 ecdh-sm2:16:3 openmined:16:3
         unseen-r255:18:3 ecdh-25519:18:3 unseen-sm2:18:3 ecdh-sm2:18:1 openmined:18:3
         unseen-r255:20:3 ecdh-25519:20:3 unseen-sm2:20:3 openmined:20:1)
fi
HOST=$(host_json)
for spec in "${specs[@]}"; do
  IFS=: read -r peer logn reps <<<"$spec"
  for ((i = 0; i < ${reps:-3}; i++)); do
    case $peer in
      unseen-r255) line=$(run_unseen ristretto255 "$logn") ;;
      unseen-r255-portable) line=$(UNSEEN_NO_SIMD=1 run_unseen ristretto255 "$logn" | sed 's/"ecdh-ristretto255"/"ecdh-ristretto255 (portable, UNSEEN_NO_SIMD=1)"/') ;;
      unseen-sm2) line=$(run_unseen sm2 "$logn") ;;
      *) line=$(run_peer "$peer" "$logn") || true ;;
    esac
    line=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["host"]=json.loads(sys.argv[2]); d["rep"]=int(sys.argv[3]); print(json.dumps(d))' "$line" "$HOST" "$i")
    echo "$line" | tee -a "$OUT"
  done
done
