#!/usr/bin/env bash
# Round 2 of the class-learning experiment (docs/class_learning.md): the CPU sweep, resumable.
#
#   for q in 1 2 3 4; do bash benchmarks/class_learning_round2.sh $q & done; wait   # four queues
#   bash benchmarks/class_learning_round2.sh collect                              # the outputs
#
# Assignment 1 is round 1's class-to-count assignment, assignment 2 is --count-seed 12. Every run
# uses one torch thread (on a shared, loaded machine two threads per run spent most of their CPU
# time waiting on each other), so round 2 reruns (a) rather than pairing with round 1's 2-thread
# runs. Each call trains one (condition, seed) and saves it under OUT/runs/; a rerun skips what is
# saved (--resume), so an interrupted sweep keeps what it finished. Each queue runs 3 seeds of one
# condition before the next, the most needed first.
set -euo pipefail
cd "$(dirname "$0")/.."
R=benchmarks/results/class_learning_round2
one() { # one <assignment 1|2> <condition> <seed> [options]
    local part=$1 cond=$2 seed=$3
    shift 3
    local extra=()
    [ "$part" = 2 ] && extra=(--count-seed 12)
    nice -n 5 python -m experiments.class_learning --resume --threads 1 --out $R/ds$part-base --data $R/data-ds$part \
        "${extra[@]}" --conditions "$cond" --seeds "$seed" "$@"
}
case "${1:?queue 1, 2, 3, 4 or collect}" in
1) for job in "1 a 0" "1 a 1" "1 a 2" "2 a 1" "2 a 2"; do one $job; done ;;
2) for job in "1 h 0" "1 h 1" "1 h 2" "2 h 1" "2 h 2"; do one $job; done ;;
3) for job in "1 g 0" "1 g 1" "1 g 2" "1 j 0" "1 j 1" "1 j 2" "1 i 0" "1 i 1" "1 i 2"; do one $job; done ;;
4) for job in "2 a 0" "2 h 0"; do one $job; done ;;
L1 | L2) # the larger budget: width 16 (4x the parameters), 12000 samples (2x); ~14 min CPU per run
    large() { nice -n 10 python -m experiments.class_learning --resume --threads 1 --out $R/ds1-large \
        --data $R/data-ds1 --width 16 --samples 12000 --conditions "$1" --seeds "$2"; }
    if [ "$1" = L1 ]; then
        for job in "2 a 1" "2 a 2" "2 h 1" "2 h 2"; do one $job; done
        for job in "a 0" "a 1" "a 2" "g 2"; do large $job; done
    else
        for job in "h 0" "h 1" "h 2" "g 0" "g 1"; do large $job; done
    fi
    ;;
collect)
    for part in 1 2; do
        extra=()
        [ "$part" = 2 ] && extra=(--count-seed 12)
        python -m experiments.class_learning --saved-only --threads 1 --out $R/ds$part-base --data $R/data-ds$part \
            "${extra[@]}" --conditions a g g-inv h i j k --seeds 0 1 2 || true
    done
    python -m experiments.class_learning --saved-only --threads 1 --out $R/ds1-large --data $R/data-ds1 \
        --width 16 --samples 12000 --conditions a g h --seeds 0 1 2 || true
    python -m experiments.class_learning.round2
    ;;
*)
    echo "unknown queue $1" >&2
    exit 2
    ;;
esac
