#!/usr/bin/env bash
# Joint-modeling benchmarks side by side, in one run on one machine: unseen's `bench he` and
# `bench train` beside SecretFlow HEU (OU), SecretFlow SGB and centralised XGBoost, on the data
# of ../shared/bench/fl (see its README: setup_venv.sh, install_secretflow_1.11.sh,
# gen_data.py synth german). Appends JSON lines to bench/out/.
#   bench/fl_compare.sh [TREES_SYNTH] [SGB_TREES]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${FL_BENCH_WORK:-/work/flbench}
FL=../shared/bench/fl
T=${1:-100}
S=${2:-5}
OUT=bench/out
BIN=target/release/unseen
cargo build --release -q
lscpu | grep -E 'Model name|^CPU\(s\)' >&2
grep -o -w 'avx512ifma' /proc/cpuinfo | head -1 >&2 || true
uptime >&2
taskset -c 0 $BIN bench he --scheme ou --bits 2048 --seconds 2 | tee -a $OUT/fl_he_unseen.jsonl
(cd "$W" && FL_BENCH_WORK="$W" taskset -c 0 .venv/bin/python "$OLDPWD/$FL/bench_paillier.py" \
  --threads 1 --lib heu --schemes OU --bits 2048) | tee -a $OUT/fl_he_heu.jsonl
for d in german synth; do
  trees=$T; [ $d = german ] && trees=100
  D=$W/data/$d
  $BIN bench train --guest $D/guest_train.csv --host $D/host_train.csv \
    --guest-test $D/guest_test.csv --host-test $D/host_test.csv --id id --label label \
    --trees $trees --depth 5 --bins 32 --learning-rate 0.1 | tee -a $OUT/fl_train_$d.jsonl
done
(cd "$W" && FL_BENCH_WORK="$W" timeout 3600 .venv-sf111/bin/python "$OLDPWD/$FL/bench_sgb.py" synth \
  --trees $S --runs 1 --debug-mode 2>/dev/null | grep '^{') | tee -a $OUT/fl_sgb_synth.jsonl
(cd "$W" && FL_BENCH_WORK="$W" .venv/bin/python "$OLDPWD/$FL/bench_gbdt.py" synth german) \
  | tee -a $OUT/fl_xgb.jsonl
uptime >&2
