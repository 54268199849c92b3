#!/bin/bash
# Env gate across a reboot. Two boots of one guest:
#   boot 1: no role file at boot; the scenario writes it (a rename into place, as careful
#           agents do): the wait unit opens the gate and restarts the consumer.
#   boot 2: the role file is still there: the fast path. Populate writes (here: finds, byte
#           for byte) the real env before the consumer starts, the consumer starts once with
#           it, the wait unit is not started, the stub is never written again.
# e2e-boots: 2
# e2e-timeout: 180
# e2e-guests: bookworm testing
. /e2e/lib.sh
. /usr/local/lib/e2e-envgate.sh

mkdir -p /var/lib/e2e
case $E2E_BOOT in
1)
	step "boot 1: no role file; the gate opens when it is renamed into place"
	check_output_stub
	check_consumer_held
	mkdir -p /etc/app
	E2E_ROLE_FILE_ROOT=/tmp/role /usr/local/sbin/e2e-write-role-file --quick
	mv /tmp/role/etc/app/worker.env "$ROLE_FILE"
	wait_for --timeout 10 unit_in_state "$CONSUMER" running || check_failed "$CONSUMER is not running 10 s after the file"
	check_output_real
	check_consumer_real
	wait_for --timeout 10 unit_in_state "$WAIT" dead || true
	check_wait_succeeded
	stat -c %Y.%y "$OUTPUT" >/var/lib/e2e/output-mtime
	sleep 1 # the role file is then over SettleTime old at boot 2, however fast the reboot
	show_gate_journal
	;;
2)
	step "boot 2: the role file is there: fast path, real env, no wait unit"
	assert_eq "$(unit_prop "$GATE" ActiveState)/$(unit_prop "$GATE" Result)" active/success "$GATE state/result"
	check_output_real
	check_wait_never_started
	check_populate_fast
	check_consumer_started_after_populate
	assert_eq "$(stat -c %Y.%y "$OUTPUT")" "$(cat /var/lib/e2e/output-mtime)" "$OUTPUT mtime (same content: not rewritten)"
	if journalctl -b -q --no-pager -u "$GATE" -o cat | grep -q 'gate open at boot'; then ok "populate took the fast path"; else check_failed "populate did not say 'gate open at boot'"; fi
	check_failed_units ""
	check_no_start_limit
	check_secret_not_logged
	show_gate_journal
	;;
esac
