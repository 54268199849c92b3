#!/bin/bash
# `unitsmith lock` keeps a singleton daemon single across restarts (issue 7): sched.service runs
# `unitsmith lock --wait 10s -- /opt/e2e/sched-daemon`, whose old worker takes 3 s to exit on
# SIGTERM and outlives systemd's stop (KillMode=process). Required:
#   - 50 `systemctl restart` in a row: active every time, each new worker starts (the new
#     instance waited for the lock), and the holders' log never shows two holders at once;
#   - a second, manual start while it runs waits --wait, then exits 75 naming the holder's PID
#     and command line (by hand, and as a unit under systemd);
#   - SIGTERM ends a waiting instance within a second; after kill -9 nothing is stale.
# Inputs: 70-lock-restart.d/root/ (sched.service, /opt/e2e/sched-daemon).
# e2e-timeout: 420
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

ROUNDS=50
LOG=/run/sched/holders.log
LOCKFILE=/run/unitsmith/lock/sched.service.lock

starts() { grep -c '^start ' "$LOG" 2>/dev/null || true; }
has_starts() { [ "$(starts)" -ge "$1" ]; }
last_holder() { awk '$1 == "start" { p = $2 } END { print p }' "$LOG"; }

# The holders' log as a sequence: every "start" must come after the previous holder's "stop".
check_single_holder() {
	awk '
		$1 == "start" { if (cur != "") { printf "overlap: %s started while %s still held the lock\n", $2, cur; bad++ } cur = $2; n++ }
		$1 == "stop"  { if ($2 != cur) { printf "stop of %s, but the holder was %s\n", $2, cur; bad++ } cur = "" }
		END { printf "%d holders\n", n; exit bad > 0 }' "$LOG"
}

step "sched.service starts under the lock; the lock is named after the unit"
systemctl start sched.service
wait_for --timeout 10 has_starts 1 || fail "the first worker never started"
assert_eq "$(unit_prop sched.service ActiveState)" active "sched.service ActiveState"
assert_succeeds test -f "$LOCKFILE"
first=$(last_holder)
if grep -q "FLOCK.*:$(stat -c %i "$LOCKFILE") " /proc/locks; then ok "an flock on $LOCKFILE is in /proc/locks"; else check_failed "no flock on $LOCKFILE in /proc/locks"; fi

step "$ROUNDS restarts in a row"
inactive=0 no_start=0 slow=0 total_ms=0 failed_restarts=0
for r in $(seq 1 "$ROUNDS"); do
	before=$(starts)
	t0=$(date +%s%3N)
	if ! systemctl restart sched.service; then
		failed_restarts=$((failed_restarts + 1))
		echo "round $r: systemctl restart failed"
		systemctl reset-failed sched.service 2>/dev/null || true
		continue
	fi
	state=$(unit_prop sched.service ActiveState)
	if [ "$state" != active ]; then
		inactive=$((inactive + 1))
		echo "round $r: ActiveState=$state right after the restart"
	fi
	if ! wait_for --timeout 15 --interval 0.05 has_starts $((before + 1)); then
		no_start=$((no_start + 1))
		echo "round $r: no new worker within 15 s (ActiveState=$(unit_prop sched.service ActiveState) Result=$(unit_prop sched.service Result))"
		continue
	fi
	ms=$(($(date +%s%3N) - t0))
	total_ms=$((total_ms + ms))
	[ "$ms" -ge 2500 ] || slow=$((slow + 1)) # a new worker in under 2.5 s did not wait for the old one
	state=$(unit_prop sched.service ActiveState)
	[ "$state" = active ] || { inactive=$((inactive + 1)); echo "round $r: ActiveState=$state after the new worker started"; }
done
assert_eq "$failed_restarts" 0 "failed restarts"
assert_eq "$inactive" 0 "rounds in which sched.service was not active"
assert_eq "$no_start" 0 "rounds without a new worker"
assert_eq "$slow" 0 "rounds in which the new worker did not wait for the old one (< 2.5 s)"
note "average restart-to-new-worker time: $((total_ms / ROUNDS)) ms (the old worker takes 3 s to exit)"
assert_eq "$(starts)" $((ROUNDS + 1)) "workers started"
if out=$(check_single_holder); then ok "never two holders: $out"; else check_failed "two holders at once:"$'\n'"$out"; fi
waits=$(journalctl -b -u sched.service -o cat | grep -c "is held by PID" || true)
if [ "$waits" -ge $((ROUNDS - 5)) ]; then ok "new instances waited for the lock in $waits of $ROUNDS restarts"; else check_failed "only $waits of $ROUNDS restarts waited for the lock: the scenario did not exercise it"; fi
{ journalctl -b -u sched.service -o cat | grep -m 2 -E "is held by PID|took " || true; } | sed "s/^/# journal: /"

step "a second, manual start while it runs waits, then fails naming the holder"
assert_eq "$(unit_prop sched.service ActiveState)" active "sched.service ActiveState"
main=$(unit_prop sched.service MainPID)
worker=$(last_holder)
t0=$(now_s)
rc=0
err=$(unitsmith lock --name sched.service --wait 2s -- /opt/e2e/sched-daemon 2>&1) || rc=$?
took=$(seconds_between "$t0" "$(now_s)")
note "manual start: exit $rc after ${took}s: $err"
assert_eq "$rc" 75 "exit status of the manual start"
if awk -v t="$took" 'BEGIN { exit !(t >= 1.9 && t < 4) }'; then ok "it waited ~2 s (${took}s)"; else check_failed "it waited ${took}s, expected ~2 s"; fi
assert_contains "$err" "still held after 2s by" "message"
case $err in
*"PID $main "* | *"PID $worker "*) ok "the message names a holder PID ($main or $worker)" ;;
*) check_failed "the message names neither the main PID $main nor the worker $worker" ;;
esac
assert_contains "$err" "/opt/e2e/sched-daemon" "the holder's command line in the message"
assert_eq "$(starts)" $((ROUNDS + 1)) "workers started (the manual run started none)"

rc=0
out=$(systemd-run --unit=sched-second --wait --quiet -p Type=exec \
	/usr/bin/unitsmith lock --name sched.service --wait 2s -- /opt/e2e/sched-daemon 2>&1) || rc=$?
assert_eq "$rc" 75 "exit status of a second start as a unit (systemd-run --wait)"
msg=$(journalctl -b -u sched-second.service -o cat | grep "still held" || true)
assert_contains "$msg" "by PID" "sched-second.service journal"
note "journal of sched-second.service: $msg"
systemctl reset-failed sched-second.service 2>/dev/null || true

step "SIGTERM ends a waiting instance within a second"
systemd-run --unit=sched-waiter -p Type=exec \
	/usr/bin/unitsmith lock --name sched.service --wait 60s -- /opt/e2e/sched-daemon
wait_for --timeout 5 sh -c 'journalctl -b -u sched-waiter.service -o cat | grep -q "waiting up to"'
t0=$(now_s)
systemctl stop sched-waiter.service
took=$(seconds_between "$t0" "$(now_s)")
if awk -v t="$took" 'BEGIN { exit !(t < 1.0) }'; then ok "stopped in ${took}s"; else check_failed "the stop took ${took}s (limit 1 s)"; fi
assert_eq "$(unit_prop sched-waiter.service Result)" success "sched-waiter Result (died of SIGTERM: a clean stop)"
assert_eq "$(starts)" $((ROUNDS + 1)) "workers started (the waiter never ran the command)"

step "kill -9 leaves nothing stale: the next start takes the lock at once"
systemctl kill -s KILL sched.service
wait_for --timeout 10 sh -c '! grep -q "FLOCK.*:'"$(stat -c %i "$LOCKFILE")"' " /proc/locks'
systemctl reset-failed sched.service 2>/dev/null || true
before=$(starts)
t0=$(now_s)
systemctl start sched.service
wait_for --timeout 5 --interval 0.05 has_starts $((before + 1))
took=$(seconds_between "$t0" "$(now_s)")
if awk -v t="$took" 'BEGIN { exit !(t < 1.0) }'; then ok "new worker ${took}s after the start"; else check_failed "new worker only after ${took}s"; fi
assert_succeeds test -f "$LOCKFILE"
systemctl stop sched.service
note "first worker was PID $first; log: $(wc -l <"$LOG") lines"
