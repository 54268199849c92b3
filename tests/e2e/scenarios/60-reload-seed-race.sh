#!/bin/bash
# `unitsmith reload --restart-changed`, the seed race (issue 6, scenario 1): a provisioning
# agent writes a batch of new .container files and calls `unitsmith reload --restart-changed`
# once. Every round, required:
#   - exit status 0 and no "not found" anywhere in its output;
#   - every changed unit restarted EXACTLY once: the 50 new ones, and the one steady unit whose
#     file was edited this round;
#   - unchanged units NOT restarted: the other steady units keep their InvocationID and their
#     "container" is not started again.
# Restarts are counted where they happen: every `podman run` the units make is a line in the
# podman TEST STAND-IN's log (guest/podman-standin, NOT podman), named after the unit.
# The round's units are then stopped and their files removed (a steady number of files).
# e2e-timeout: 900
. /e2e/lib.sh

ROUNDS=100
PER_ROUND=50
STEADY=10
QUADLET_DIR=/etc/containers/systemd
STANDIN_LOG=/run/podman-standin.log

install_podman_standin
mkdir -p "$QUADLET_DIR"
touch "$STANDIN_LOG"

write_container() { # NAME [EXTRA LINE]
	printf '[Container]\nImage=docker.io/library/busybox:latest\nExec=sleep infinity\n%s\n' "${2:-}" \
		>"$QUADLET_DIR/$1.container.tmp"
	mv "$QUADLET_DIR/$1.container.tmp" "$QUADLET_DIR/$1.container" # never half-written
}

# "COUNT NAME" for every container started since line $1 of the stand-in's log. The stand-in
# logs "PID run --name systemd-UNIT ..." for each start.
starts_since() { # FIRST_LINE
	tail -n +"$1" "$STANDIN_LOG" | awk '$2 == "run" {
		for (i = 3; i < NF; i++) if ($i == "--name") { n = $(i + 1); sub(/^systemd-/, "", n); print n }
	}' | sort | uniq -c | awk '{ print $1, $2 }'
}

invocation_ids() { # NAME... -> "NAME INVOCATION_ID" lines, one systemctl call
	systemctl show -p Id -p InvocationID "${@/%/.service}" | awk 'BEGIN { RS = ""; FS = "\n" } {
		id = ""; inv = ""
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^Id=/) id = substr($i, 4)
			else if ($i ~ /^InvocationID=/) inv = substr($i, 14)
		}
		sub(/\.service$/, "", id); print id, inv
	}'
}

steady=()
for k in $(seq 1 "$STEADY"); do steady+=("steady-$k"); done

step "$STEADY steady units: written and started by a first reload"
for s in "${steady[@]}"; do write_container "$s"; done
out=$(unitsmith reload --restart-changed 2>&1) || fail "first reload failed:"$'\n'"$out"
echo "$out" | tail -n 3 | sed 's/^/#   /'
active=$(systemctl is-active "${steady[@]/%/.service}" | grep -cx active || true)
assert_eq "$active" "$STEADY" "steady units active after the first reload"

bad_rounds=0 not_found_total=0 time_sum=0 time_max=0
step "$ROUNDS rounds: $PER_ROUND new files + 1 edited steady file + one unitsmith reload --restart-changed"
for r in $(seq 1 "$ROUNDS"); do
	errors=()
	units=()
	for n in $(seq 1 "$PER_ROUND"); do
		write_container "seed-$r-$n"
		units+=("seed-$r-$n")
	done
	edited=steady-$((r % STEADY + 1))
	write_container "$edited" "Environment=ROUND=$r"
	ids_before=$(invocation_ids "${steady[@]}")
	first_line=$(($(wc -l <"$STANDIN_LOG") + 1))

	t0=$(now_s)
	rc=0
	out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
	t1=$(now_s)
	secs=$(seconds_between "$t0" "$t1")

	# Exactly the expected starts: each new unit once, the edited one once, nothing else.
	expected=$( { printf '1 %s\n' "${units[@]}"; echo "1 $edited"; } | sort)
	actual=$(starts_since "$first_line" | sort)
	[ "$rc" = 0 ] || errors+=("exit status $rc")
	nf=$(grep -c 'not found' <<<"$out" || true)
	[ "$nf" = 0 ] || errors+=("$nf 'not found' in the output")
	if [ "$actual" != "$expected" ]; then
		errors+=("starts differ from expected (< expected, > actual): $( { diff <(echo "$expected") <(echo "$actual") || true; } | grep '^[<>]' | head -n 6 | tr '\n' ';')")
	fi
	active=$(systemctl is-active "${units[@]/%/.service}" "$edited.service" | grep -cx active || true)
	[ "$active" = $((PER_ROUND + 1)) ] || errors+=("$active/$((PER_ROUND + 1)) changed units active")
	# InvocationID: new for the edited unit, the same for every other steady unit.
	ids_after=$(invocation_ids "${steady[@]}")
	changed_ids=$( { diff <(echo "$ids_before") <(echo "$ids_after") || true; } | awk '/^>/ { print $2 }' | tr '\n' ' ')
	[ "$changed_ids" = "$edited " ] || errors+=("steady units with a new InvocationID: '$changed_ids', expected '$edited '")
	grep -q "^reload: .* $((PER_ROUND + 1)) restarted" <<<"$out" || errors+=("summary does not say $((PER_ROUND + 1)) restarted")

	t2=$(now_s)
	echo "round $r: reload ${secs}s, checks $(seconds_between "$t1" "$t2")s, exit $rc, starts $(echo "$actual" | awk '{ s += $1 } END { print s + 0 }')/$((PER_ROUND + 1)), active $active, not found $nf"
	if [ ${#errors[@]} -gt 0 ]; then
		bad_rounds=$((bad_rounds + 1))
		not_found_total=$((not_found_total + nf))
		check_failed "round $r: $(printf '%s; ' "${errors[@]}")"
		echo "$out" | head -n 20 | sed 's/^/#   /'
	fi
	time_sum=$(awk -v a="$time_sum" -v b="$secs" 'BEGIN { print a + b }')
	time_max=$(awk -v a="$time_max" -v b="$secs" 'BEGIN { print (b > a ? b : a) }')

	# Stop the round's units in the background (no wait on their stop jobs), and remove them.
	systemctl --no-block stop "${units[@]/%/.service}" || true
	rm -f "$QUADLET_DIR/seed-$r-"*.container
	[ "$bad_rounds" -lt 5 ] || fail "5 rounds failed; stopping at round $r"
done

step "summary"
note "unitsmith reload --restart-changed: mean $(awk -v s="$time_sum" -v n="$ROUNDS" 'BEGIN { printf "%.3f", s / n }')s, max ${time_max}s"
assert_eq "$not_found_total" 0 "'not found' over $ROUNDS rounds"
assert_eq "$bad_rounds" 0 "rounds with a wrong exit status, restart count or InvocationID"
step "a reload with nothing changed restarts nothing"
first_line=$(($(wc -l <"$STANDIN_LOG") + 1))
out=$(unitsmith reload --restart-changed 2>&1) || check_failed "reload with nothing changed failed: $out"
assert_eq "$(starts_since "$first_line")" "" "containers started by a reload with nothing changed"
assert_contains "$out" " 0 restarted" "summary"
