#!/bin/bash
# Env gate, the file never comes (Timeout=60s). Required:
#   - the boot is not held up: multi-user.target is reached while the wait unit waits, with no
#     job queued for it;
#   - about 60 s after it started, the wait unit fails (exit status 1) and its journal says
#     why, naming the file, the timeout and what to do;
#   - the consumer stays on the stub: held (skipped), not failed, never restarted, and no unit
#     hit its start limit; the wait unit is the only failed unit;
#   - what its message says works: `systemctl start` it again (it stops within a second when
#     asked), and once the file is there it opens the gate.
# e2e-timeout: 180
# e2e-guests: bookworm testing
. /e2e/lib.sh
. /usr/local/lib/e2e-envgate.sh

step "the boot is not held up"
assert_eq "$(unit_prop multi-user.target ActiveState)" active "multi-user.target ActiveState"
note "multi-user.target reached $(boot_ms) ms after systemd started"
wait_started=$(mono "$WAIT" ExecMainStartTimestampMonotonic)
target_reached=$(mono multi-user.target ActiveEnterTimestampMonotonic)
if [ "$wait_started" -gt 0 ] && [ "$target_reached" -lt $((wait_started + 5000000)) ]; then
	ok "multi-user.target reached $(ms_between "$wait_started" "$target_reached") ms after the wait unit started (not after it)"
else
	check_failed "wait unit started at $wait_started us, multi-user.target at $target_reached us"
fi
check_populate_fast
assert_eq "$(unit_prop "$WAIT" ActiveState)/$(unit_prop "$WAIT" SubState)" active/running "$WAIT state"
check_wait_holds_no_job
check_output_stub
check_consumer_held

step "the wait unit gives up after Timeout=60s"
wait_for --timeout 90 unit_in_state "$WAIT" failed || fail "$WAIT did not fail within 90 s"
assert_eq "$(unit_prop "$WAIT" Result)" exit-code "$WAIT Result"
assert_eq "$(unit_prop "$WAIT" ExecMainStatus)" 1 "$WAIT ExecMainStatus"
ran=$(ms_between "$(mono "$WAIT" ExecMainStartTimestampMonotonic)" "$(mono "$WAIT" ExecMainExitTimestampMonotonic)")
note "$WAIT ran for $ran ms"
if [ "$ran" -ge 59500 ] && [ "$ran" -le 63000 ]; then ok "it gave up after ~60 s"; else check_failed "it gave up after $ran ms"; fi
message=$(journalctl -b -q --no-pager -u "$WAIT" -o cat -p err)
assert_contains "$message" "gave up after 1min (Timeout=): /etc/app/worker.env or /etc/app/server.env did not arrive" "$WAIT error message"
assert_contains "$message" "systemctl start $WAIT" "$WAIT error message"

step "the consumer is still on the stub, held, and nothing else failed"
check_output_stub
check_consumer_held
check_consumer_never_ran_on_stub
check_no_start_limit
check_failed_units "$WAIT"

step "the way out the message gives: started again, the wait unit stops within a second ..."
systemctl start "$WAIT"
wait_for --timeout 5 journal_says "$WAIT" "waiting up to 1min" || true
t0=$(now_s)
systemctl stop "$WAIT"
stop_s=$(seconds_between "$t0" "$(now_s)")
note "systemctl stop $WAIT took ${stop_s}s"
if awk -v s="$stop_s" 'BEGIN { exit !(s < 1) }'; then ok "stopped within 1 s"; else check_failed "stop took ${stop_s}s"; fi
assert_eq "$(unit_prop "$WAIT" ActiveState)" inactive "$WAIT ActiveState after stop (not failed)"

step "... and once the file is there, opens the gate"
/usr/local/sbin/e2e-write-role-file --quick
systemctl start "$WAIT"
wait_for --timeout 10 unit_in_state "$CONSUMER" running || check_failed "$CONSUMER is not running 10 s after the restart"
check_output_real
check_consumer_real
check_failed_units ""
check_secret_not_logged
show_gate_journal
