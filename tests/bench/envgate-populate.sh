#!/usr/bin/env bash
# Bench: the env gate's boot path when the awaited file is absent, `unitsmith envgate populate`:
# read the declaration (and its drop-ins), find no file, write the stub (fsync'd, atomic),
# start the wait unit with `systemctl --no-block start`. systemd runs this before the
# consumers and the target that wants the gate, so it must take milliseconds: target < 20 ms.
#
#   tests/bench/envgate-populate.sh [RUNS]     (default 50)
#
# UNITSMITH=PATH picks the helper (default target/release/unitsmith; `make build` first).
# systemctl is a stand-in (UNITSMITH_SYSTEMCTL, a shell script that records its arguments): the
# bench measures the helper, not PID 1. The output is removed before every run, so every run
# writes the stub: the first boot's cost, the worst case (later boots find the stub in place).
# The work directory is on disk (${TMPDIR:-/var/tmp}), where fsync costs what it costs.
# Prints one line: envgate populate (file absent): median X ms over N runs
set -euo pipefail

runs=${1:-50}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${UNITSMITH:-$repo/target/release/unitsmith}
[ -x "$bin" ] || { echo "envgate-populate.sh: $bin not found; run make build" >&2; exit 2; }
[ "${BASH_VERSINFO[0]}" -ge 5 ] || { echo "envgate-populate.sh: needs bash 5 (EPOCHREALTIME)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/unitsmith-bench-envgate.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/unitsmith" "$work/out"
cat >"$work/unitsmith/bench.envgate" <<DECL
[EnvGate]
WaitFor=$work/app/worker.env
WaitFor=$work/app/server.env
Output=$work/out/consumer.env
Import=VAULT_NAME REGION
StubKeys=AXIOM_TOKEN AXIOM_DATASET
Consumer=consumer.service
Timeout=30min
DECL
printf '#!/bin/sh\necho "$*" >>"%s/systemctl.calls"\n' "$work" >"$work/systemctl"
chmod +x "$work/systemctl"
export UNITSMITH_SYSTEMCTL=$work/systemctl UNITSMITH_UNIT_DIRS=$work/unitsmith
unset JOURNAL_STREAM SYSTEMD_LOG_LEVEL

us() { # EPOCHREALTIME (seconds.micros) -> microseconds, no fork
	local s=${1%[.,]*} f=${1#*[.,]}
	echo $((10#$s * 1000000 + 10#$f))
}

times=()
for ((i = 0; i < runs; i++)); do
	rm -f "$work/out/consumer.env"
	t0=$EPOCHREALTIME
	"$bin" envgate populate "$work/unitsmith/bench.envgate" 2>/dev/null
	t1=$EPOCHREALTIME
	times+=($(($(us "$t1") - $(us "$t0"))))
done

# Every run must have done the whole job, or the number means nothing.
grep -q '^# unitsmith env gate stub' "$work/out/consumer.env" ||
	{ echo "envgate-populate.sh: populate did not write the stub" >&2; exit 1; }
calls=$(grep -c -- '--no-block start -- bench-wait.service' "$work/systemctl.calls" || true)
[ "$calls" = "$runs" ] ||
	{ echo "envgate-populate.sh: expected $runs starts of bench-wait.service, got $calls" >&2; exit 1; }

median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }')
echo "envgate populate (file absent): median $median ms over $runs runs"
