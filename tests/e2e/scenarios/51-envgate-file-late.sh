#!/bin/bash
# Env gate, file written 45 s after boot (the cloud-init race). Two boots of one guest:
#   boot 1: the role file is there (fast path): the baseline time to multi-user.target. Then
#           the role file and the env file are removed, as on a fresh instance.
#   boot 2: no role file. Required:
#     - multi-user.target reached as fast as in boot 1 (within 2 s): nothing waits for the gate;
#     - the consumer (Restart=always, fails fast without a token) is held, not failed, not
#       restarting; the wait unit runs without a queued job;
#     - the role file is written 45 s after boot, in place and in two steps with a pause (as a
#       slow writer does); the consumer runs with the complete real env within 2 s of the
#       writer finishing, the gate built it once (never from half a file);
#     - no unit hit its start limit, `systemctl --failed` is empty, no secret in the journal.
# The gate's PollInterval is 30 s here: only inotify (with /etc/app created late) is fast enough.
# e2e-boots: 2
# e2e-timeout: 240
# e2e-guests: bookworm testing
. /e2e/lib.sh
. /usr/local/lib/e2e-envgate.sh

mkdir -p /var/lib/e2e
case $E2E_BOOT in
1)
	step "boot 1: role file present, the fast path: the baseline"
	check_output_real
	check_consumer_real
	check_consumer_never_held
	check_wait_never_started
	check_populate_fast
	boot_ms >/var/lib/e2e/baseline-boot-ms
	note "multi-user.target reached $(cat /var/lib/e2e/baseline-boot-ms) ms after systemd started"
	rm -rf /etc/app "$OUTPUT"
	ok "removed /etc/app and $OUTPUT for boot 2"
	;;
2)
	step "boot 2: no role file; the boot is as fast as with it"
	baseline=$(cat /var/lib/e2e/baseline-boot-ms)
	now=$(boot_ms)
	note "multi-user.target reached $now ms after systemd started (boot 1: $baseline ms)"
	diff=$((now - baseline))
	if [ "$now" -ge 0 ] && [ "${diff#-}" -le 2000 ]; then
		ok "boot time within 2 s of the fast path (difference ${diff} ms)"
	else
		check_failed "boot time $now ms vs $baseline ms with the file present"
	fi
	assert_eq "$(unit_prop "$GATE" ActiveState)/$(unit_prop "$GATE" Result)" active/success "$GATE state/result"
	check_populate_fast
	check_output_stub

	step "while the gate is closed: the consumer is held, the wait unit waits without a job"
	assert_eq "$(unit_prop "$WAIT" ActiveState)/$(unit_prop "$WAIT" SubState)" active/running "$WAIT state"
	check_wait_holds_no_job
	sleep 5 # a consumer that restarts every second would have hit its start limit by now
	check_consumer_held
	check_consumer_never_ran_on_stub

	step "the role file is written 45 s after boot"
	systemd-run --quiet --unit=e2e-write-role --remain-after-exit --on-boot=45 /usr/local/sbin/e2e-write-role-file
	wait_for --timeout 90 unit_has_exited e2e-write-role.service || fail "the writer did not run"
	written=$(mono e2e-write-role.service ExecMainExitTimestampMonotonic)
	note "the writer finished $(ms_between "$(systemctl show -P UserspaceTimestampMonotonic)" "$written") ms after systemd started"
	wait_for --timeout 10 unit_in_state "$CONSUMER" running || check_failed "$CONSUMER is not running 10 s after the file"

	step "the consumer runs with the real env, within 2 s of the file"
	started=$(mono "$CONSUMER" ExecMainStartTimestampMonotonic)
	lag=$(ms_between "$written" "$started")
	note "$CONSUMER started $lag ms after the writer finished"
	if [ "$lag" -ge 0 ] && [ "$lag" -le 2000 ]; then ok "restarted within 2 s of the file"; else check_failed "restarted $lag ms after the file"; fi
	check_output_real
	check_consumer_real
	assert_eq "$(unit_prop "$CONSUMER" NRestarts)" 0 "$CONSUMER NRestarts (its Restart= never fired)"
	check_consumer_never_ran_on_stub
	wait_for --timeout 10 unit_in_state "$WAIT" dead || true
	check_wait_succeeded
	if journalctl -b -q --no-pager -u "$WAIT" -o cat | grep -q 'attempt 1:'; then
		check_failed "the gate failed to build the env at its first attempt (took the file half written?)"
	else
		ok "built at the first attempt: the file was taken complete"
	fi

	step "no start limit, nothing failed, no secret logged"
	check_no_start_limit
	check_failed_units ""
	check_secret_not_logged
	show_gate_journal
	;;
esac
