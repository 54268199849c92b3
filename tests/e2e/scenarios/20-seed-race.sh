#!/bin/bash
# Seed race: files written just before a daemon-reload are units right after it. This is what
# a provisioning agent does (write a batch of .container files, reload, start them all at
# once); a unit that is "not found" at that moment is a container that silently never runs.
#
# Each round writes PER_ROUND new files (new names every round), runs `systemctl
# daemon-reload`, then restarts all the new units in ONE systemctl call. Required, every
# round: no "Unit ... not found", restart exits 0, every unit ends active. The round's units
# are then stopped and their files removed, so each reload sees a realistic, steady number of
# files rather than thousands.
#
# Podman is not in the guest: the podman TEST STAND-IN (guest/podman-standin, NOT podman)
# plays the containers, so the generated units really start and stop.
# e2e-timeout: 900
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

ROUNDS=100
PER_ROUND=50
QUADLET_DIR=/etc/containers/systemd

install_podman_standin
mkdir -p "$QUADLET_DIR"

write_round_files() { # ROUND -> unit names, one a line
	local r=$1 n
	for n in $(seq 1 "$PER_ROUND"); do
		printf '[Container]\nImage=docker.io/library/busybox:latest\nExec=sleep infinity\n' \
			>"$QUADLET_DIR/seed-$r-$n.container.tmp"
		# rename: a reader never sees a half-written file (as careful agents do)
		mv "$QUADLET_DIR/seed-$r-$n.container.tmp" "$QUADLET_DIR/seed-$r-$n.container"
		echo "seed-$r-$n.service"
	done
}

remove_round() { # ROUND UNIT...
	local r=$1
	shift
	# Clean-up, not a check (the round was judged already): "not loaded" here is not news.
	# Bounded: on a loaded machine a blocking stop of 50 units has been seen to take minutes.
	timeout 60 systemctl stop "$@" 2>/dev/null || true
	systemctl reset-failed "$@" 2>/dev/null || true
	rm -f "$QUADLET_DIR/seed-$r-"*.container
}

not_found_total=0 bad_rounds=0
reload_sum=0 restart_sum=0 reload_max=0 restart_max=0

step "$ROUNDS rounds of $PER_ROUND new files + daemon-reload + one restart of them all"
for r in $(seq 1 "$ROUNDS"); do
	mapfile -t units < <(write_round_files "$r")

	t0=$(now_s)
	systemctl daemon-reload
	t1=$(now_s)
	restart_rc=0
	restart_err=$(systemctl restart "${units[@]}" 2>&1) || restart_rc=$?
	t2=$(now_s)

	not_found=$(grep -c 'not found' <<<"$restart_err" || true)
	active=$(systemctl is-active "${units[@]}" | grep -cx active || true)
	reload_s=$(seconds_between "$t0" "$t1")
	restart_s=$(seconds_between "$t1" "$t2")
	echo "round $r: reload ${reload_s}s, restart ${restart_s}s (exit $restart_rc), not found $not_found, active $active/$PER_ROUND"

	if [ "$not_found" != 0 ] || [ "$restart_rc" != 0 ] || [ "$active" != "$PER_ROUND" ]; then
		bad_rounds=$((bad_rounds + 1))
		not_found_total=$((not_found_total + not_found))
		check_failed "round $r: restart exit $restart_rc, $not_found not found, $active/$PER_ROUND active"
		printf '%s\n' "$restart_err" | head -n 5 | sed 's/^/#   /'
		for u in "${units[@]}"; do
			[ "$(unit_prop "$u" ActiveState)" = active ] && continue
			note "first inactive unit: $u"
			systemctl status --no-pager -n 10 "$u" 2>&1 | sed 's/^/#   /' || true
			break
		done
	fi
	reload_sum=$(awk -v a="$reload_sum" -v b="$reload_s" 'BEGIN { print a + b }')
	restart_sum=$(awk -v a="$restart_sum" -v b="$restart_s" 'BEGIN { print a + b }')
	reload_max=$(awk -v a="$reload_max" -v b="$reload_s" 'BEGIN { print (b > a ? b : a) }')
	restart_max=$(awk -v a="$restart_max" -v b="$restart_s" 'BEGIN { print (b > a ? b : a) }')

	remove_round "$r" "${units[@]}"
	# Stop early on a systematic failure: 100 identical reports help nobody.
	[ "$bad_rounds" -lt 5 ] || fail "5 rounds failed; stopping at round $r"
done

step "summary"
note "daemon-reload: mean $(awk -v s="$reload_sum" -v n="$ROUNDS" 'BEGIN { printf "%.3f", s / n }')s, max ${reload_max}s"
note "restart of $PER_ROUND units: mean $(awk -v s="$restart_sum" -v n="$ROUNDS" 'BEGIN { printf "%.3f", s / n }')s, max ${restart_max}s"
assert_eq "$not_found_total" 0 "'Unit ... not found' over $ROUNDS rounds"
assert_eq "$bad_rounds" 0 "rounds with a failed restart or an inactive unit"
