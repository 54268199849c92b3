#!/bin/sh
# Run cargo-fuzz targets for a bounded time each and say what happened: executions and
# crashes per target. `make fuzz` calls this; it is not part of `make test` (it is long).
#
#   fuzz/run.sh [TARGET...]          (from generator/; default: every target)
#   FUZZ_SECONDS=60                  time per target
#   FUZZ_SANITIZER=none              cargo fuzz -s (the generator has no unsafe code: ASan
#                                    halves the executions and finds nothing more here)
#   FUZZ_WORK=target/fuzz-work       scratch corpora (the corpus in fuzz/corpus/ is only read;
#                                    `make fuzz-cmin` folds new finds back, minimised)
#
# A crash leaves its input in fuzz/artifacts/TARGET/: turn it into a regression test, then
# delete it. Exit status 1 when any target crashed.
set -u
cd "$(dirname "$0")/.." || exit 2
seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-none}
work=${FUZZ_WORK:-$PWD/fuzz/target/fuzz-work}
targets=${*:-$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v unitsmith-generator-fuzz)}
# The convert target writes its inputs as files: on tmpfs they cost less.
[ -d /dev/shm ] && export TMPDIR=/dev/shm
export RUSTC_BOOTSTRAP=1
for t in $targets; do cargo fuzz build -O -s "$sanitizer" "$t" || exit 2; done
summary=""
failed=0
for t in $targets; do
    mkdir -p "$work/$t" "fuzz/artifacts/$t" "fuzz/corpus/$t"
    before=$(ls "fuzz/artifacts/$t" | wc -l)
    log="$work/$t.log"
    cargo fuzz run -O -s "$sanitizer" "$t" "$work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    crashes=$(( $(ls "fuzz/artifacts/$t" | wc -l) - before ))
    if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        failed=1
        echo "$t: exit status $status, $crashes new artifacts in fuzz/artifacts/$t; log: $log"
        grep -m 5 -E "panicked|ERROR|SUMMARY" "$log"
    fi
    summary="$summary$(printf '%-14s %8ss %12s %10s %8s' "$t" "$seconds" "${runs:-?}" "${rate:-?}" "$crashes")
"
done
printf '%-14s %9s %12s %10s %8s\n' target time executions exec/s crashes
printf '%s' "$summary"
exit $failed
