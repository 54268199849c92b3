#!/usr/bin/env bash
# Bench: what `unitsmith reload --restart-changed` costs over doing it by hand. Runs INSIDE a
# booted systemd guest (e2e scenario 66-reload-bench), as root, with a podman in place (the
# e2e stand-in on bookworm). N Quadlet files whose units run; each round every file is edited,
# then applied either way, alternately, and timed:
#   reload:  unitsmith reload --restart-changed          (finds the N changed units itself)
#   by hand: systemctl daemon-reload && systemctl restart U1 ... UN
# Both restart exactly the N units, once. The order alternates between rounds; the result is
# the median of the per-round ratios (reload / by hand), with each side's median, and where
# reload's time goes (its own summary line: daemon-reload, restart, total).
#
#   reload-vs-systemctl.sh [N] [ROUNDS]      (default 50 units, 11 rounds after 1 warm-up)
#
# MAX_RATIO=X makes it exit 1 when the median ratio is above X.
# Prints: "reload bench: N units, R rounds: reload median A s, by hand median B s, ratio
# median X (min..max)".
set -euo pipefail

n=${1:-50}
rounds=${2:-11}
max=${MAX_RATIO:-}
dir=${QUADLET_DIR:-/etc/containers/systemd}
image=${BENCH_IMAGE:-docker.io/library/busybox:latest}
exec_line=${BENCH_EXEC:-sleep infinity}
mkdir -p "$dir"

summary_file=$(mktemp)
trap 'rm -f "$summary_file"' EXIT
units=()
for i in $(seq 1 "$n"); do units+=("bench-$i.service"); done
edit() { # VALUE: rewrite every file (new content, so every unit changed)
	local i
	for i in $(seq 1 "$n"); do
		printf '[Container]\nImage=%s\nPull=never\nExec=%s\nEnvironment=ROUND=%s\n\n[Service]\nTimeoutStopSec=15\n' \
			"$image" "$exec_line" "$1" >"$dir/bench-$i.container.tmp"
		mv "$dir/bench-$i.container.tmp" "$dir/bench-$i.container"
	done
}
now() { date +%s.%N; }
between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

run_reload() { # -> seconds; checks that it restarted the N units
	local t0 t1 out
	t0=$(now)
	out=$(unitsmith reload --restart-changed 2>&1) || { echo "$out" >&2; echo "reload failed" >&2; exit 1; }
	t1=$(now)
	grep -q "checked, $n restarted" <<<"$out" || { echo "$out" | tail -n 3 >&2; echo "reload did not restart the $n units" >&2; exit 1; }
	tail -n 1 <<<"$out" >"$summary_file"
	between "$t0" "$t1"
}
run_by_hand() {
	local t0 t1
	t0=$(now)
	systemctl daemon-reload && systemctl restart "${units[@]}"
	t1=$(now)
	between "$t0" "$t1"
}

edit start
unitsmith reload --restart-changed >/dev/null # all N running, the state knows them
active=$(systemctl is-active "${units[@]}" | grep -cx active || true)
[ "$active" = "$n" ] || { echo "only $active of $n units active" >&2; exit 1; }

ra=() rb=() ratios=()
for r in $(seq 0 "$rounds"); do
	if [ $((r % 2)) = 0 ]; then
		edit "a$r"; a=$(run_reload)
		edit "b$r"; b=$(run_by_hand)
	else
		edit "b$r"; b=$(run_by_hand)
		edit "a$r"; a=$(run_reload)
	fi
	[ "$r" = 0 ] && { echo "warm-up: reload ${a}s, by hand ${b}s"; continue; }
	ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
	ra+=("$a") rb+=("$b") ratios+=("$ratio")
	summary=$(cat "$summary_file")
	echo "round $r: reload ${a}s, by hand ${b}s, ratio $ratio; reload said: ${summary#reload: }"
done

# Where reload's time goes, once more with -v (its "time spent" line).
edit profile
unitsmith -v reload --restart-changed 2>&1 | sed -n 's/^unitsmith: debug: time spent: /reload profile: /p'

ma=$(printf '%s\n' "${ra[@]}" | median)
mb=$(printf '%s\n' "${rb[@]}" | median)
mr=$(printf '%s\n' "${ratios[@]}" | median)
lo=$(printf '%s\n' "${ratios[@]}" | sort -g | head -n 1)
hi=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -n 1)
echo "reload bench: $n units, $rounds rounds: reload median ${ma}s, by hand median ${mb}s, ratio median $mr ($lo..$hi)"
if [ -n "$max" ] && awk -v r="$mr" -v m="$max" 'BEGIN { exit !(r > m) }'; then
	echo "reload bench: ratio $mr is above $max" >&2
	exit 1
fi
