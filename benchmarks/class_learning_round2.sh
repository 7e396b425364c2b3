#!/usr/bin/env bash
# Round 2 of the class-learning experiment (docs/class_learning.md): the CPU sweep, resumable.
#
#   bash benchmarks/class_learning_round2.sh A    # count assignment 1 (round 1's data): g h, then i j, g-inv k, a
#   bash benchmarks/class_learning_round2.sh B    # count assignment 2 (--count-seed 12): a h, then g
#   bash benchmarks/class_learning_round2.sh L    # larger budget (width 16, 2x samples): a h
#
# Every finished (condition, seed) is saved under OUT/runs/ and skipped by a rerun (--resume), so an
# interrupted sweep keeps what it finished; each call rewrites OUT/results.json with every run it holds.
# Conditions are added a few at a time, 3 seeds each, so a sweep cut short has whole conditions.
# Round 1's (a) on count assignment 1 is benchmarks/results/class_learning/results.json (same data,
# seeds, settings and thread count; runs are deterministic), so queue A reruns (a) last, as a check.
set -euo pipefail
cd "$(dirname "$0")/.."
R=benchmarks/results/class_learning_round2
run() { nice -n 5 python -m experiments.class_learning --resume --seeds 0 1 2 "$@"; }
case "${1:?queue A, B or L}" in
A)
    run --out $R/ds1-base --data $R/data-ds1 --conditions g h
    run --out $R/ds1-base --data $R/data-ds1 --conditions g h i j
    run --out $R/ds1-base --data $R/data-ds1 --conditions g h i j g-inv k a
    ;;
B)
    run --out $R/ds2-base --data $R/data-ds2 --count-seed 12 --conditions a h
    run --out $R/ds2-base --data $R/data-ds2 --count-seed 12 --conditions a h g
    ;;
L)
    run --out $R/ds1-large --data $R/data-ds1 --width 16 --samples 12000 --conditions a h
    ;;
*)
    echo "unknown queue $1" >&2
    exit 2
    ;;
esac
