#!/usr/bin/env bash
# A PSI job between two real nodes (mutual TLS, policies, audit, outputs) against the direct
# `unseen psi` (plain loopback TCP) on the same files, in one run on one machine.
#
# usage: bench/node_psi.sh ALICE.csv BOB.csv [REPS]     (files with an `id` column of ID numbers,
#        e.g. ../shared/bench/psi/gen_data.py output)
# env:   UNSEEN (binary, default target/release/unseen)
# Prints one JSON line per run: {"bench","items","wall_s","state"|"intersection",…}.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
UNSEEN=${UNSEEN:-$ROOT/target/release/unseen}
A_CSV=$(realpath "$1"); B_CSV=$(realpath "$2"); REPS=${3:-3}
[ -x "$UNSEEN" ] || { echo "build first: cargo build --release (looked for $UNSEEN)" >&2; exit 2; }
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PA=$(port); PB=$(port); QA=$(port); QB=$(port)
U() { "$UNSEEN" "$@"; }
U init --dir "$W/A" --name bank-a --listen 127.0.0.1:$PA --api 127.0.0.1:$QA >/dev/null
U init --dir "$W/B" --name data-b --listen 127.0.0.1:$PB --api 127.0.0.1:$QB >/dev/null
U --dir "$W/A" node export-cert > "$W/a.pem"; U --dir "$W/B" node export-cert > "$W/b.pem"
U --dir "$W/A" partner add --name data-b --address 127.0.0.1:$PB --cert "$W/b.pem" >/dev/null
U --dir "$W/B" partner add --name bank-a --address 127.0.0.1:$PA --cert "$W/a.pem" >/dev/null
U --dir "$W/A" dataset add --name customers --path "$A_CSV" --key id --key-type id-card >/dev/null
U --dir "$W/B" dataset add --name theirs --path "$B_CSV" --key id --key-type id-card >/dev/null
U --dir "$W/A" policy allow --dataset customers --partner data-b --job psi >/dev/null
U --dir "$W/B" policy allow --dataset theirs --partner bank-a --job psi >/dev/null
# Started directly (not through U) so that $! is the daemon itself and the trap stops it.
"$UNSEEN" --dir "$W/A" node run 2>"$W/a.log" & PIDS+=($!)
"$UNSEEN" --dir "$W/B" node run 2>"$W/b.log" & PIDS+=($!)
for q in $QA $QB; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$q/healthz" >/dev/null && break; sleep 0.1; done
done
ITEMS=$(($(wc -l < "$A_CSV") - 1))
for _ in $(seq "$REPS"); do
  t0=$(date +%s.%N)
  id=$(U --dir "$W/A" job submit psi --partner data-b --dataset customers --peer-dataset theirs --wait 2>/dev/null | tail -1)
  t1=$(date +%s.%N)
  U --dir "$W/A" job show "$id" --json | python3 -c "
import json,sys; j=json.load(sys.stdin)
print(json.dumps({'bench':'node-job','items':$ITEMS,'wall_s':round($t1-$t0,3),'state':j['state'],
  'intersection':(j['result'] or {}).get('intersection'),'bytes_sent':j['bytes_sent'],'bytes_received':j['bytes_received']}))"
  P=$(port)
  t0=$(date +%s.%N)
  U psi --listen 127.0.0.1:$P -i "$B_CSV" -k id --key-type id-card -o "$W/b_out.csv" --json >"$W/l.json" 2>/dev/null &
  L=$!
  U psi --connect 127.0.0.1:$P -i "$A_CSV" -k id --key-type id-card -o "$W/a_out.csv" --json >"$W/d.json" 2>/dev/null
  wait $L
  t1=$(date +%s.%N)
  python3 -c "
import json; d=json.load(open('$W/d.json'))
print(json.dumps({'bench':'direct-psi','items':$ITEMS,'wall_s':round($t1-$t0,3),'intersection':d['intersection'],
  'bytes_sent':d['bytes_sent'],'bytes_received':d['bytes_received']}))"
done
