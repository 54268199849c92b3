#!/bin/bash
# Env gates against the real cloud-init 26 (testing guest, NoCloud seed). Two boots:
#   boot 1 (first boot of the instance): cloud-init's runcmd, in cloud-final after
#     multi-user.target, writes the role file 20 s later. Required: multi-user.target reached
#     before the file exists; no ordering cycle in the journal; every cloud-init stage
#     succeeds; the consumer (Restart=always) is held on the stub, then runs on the real env
#     within seconds of the file; no start limit hit, no failed unit, the secret never in the
#     journal. The "ci" gate (WaitForCloudInit=yes) opens on cloud-init's real
#     /run/cloud-init/result.json and its consumer runs with the instance id.
#   boot 2 (reboot): the role file is there: the fast path, creds' wait unit never starts,
#     the consumer runs from the boot on the real env; runcmd does not run again. The ci gate
#     waits for this boot's result.json (it is in /run) while its consumer runs on the real env
#     kept from boot 1: never held.
# e2e-guests: testing trixie
# e2e-parallel: yes
# e2e-boots: 2
# e2e-timeout: 240
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh
. /usr/local/lib/e2e-envgate.sh

CI_CONSUMER=ci-consumer.service
CI_WAIT=ci-wait.service
RESULT_JSON=/run/cloud-init/result.json

ci_consumer_env() {
	local pid
	pid=$(unit_prop "$CI_CONSUMER" MainPID)
	[ "$pid" -gt 0 ] && tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^INSTANCE_ID=//p'
}

check_cloud_init_done() {
	local rc=0 status
	timeout 120 cloud-init status --wait >/dev/null 2>&1 || rc=$?
	status=$(cloud-init status --long 2>&1 || true)
	echo "$status" | sed "s/^/# cloud-init: /"
	assert_eq "$rc" 0 "cloud-init status --wait exit status"
	assert_contains "$status" "status: done" "cloud-init status --long"
	assert_succeeds test -s "$RESULT_JSON"
	assert_eq "$(python3 -c 'import json; print(json.load(open("/run/cloud-init/result.json"))["v1"]["errors"])')" "[]" "errors in $RESULT_JSON"
	local u
	for u in cloud-init-local.service cloud-init-network.service cloud-config.service cloud-final.service; do
		[ "$(unit_prop "$u" LoadState)" = loaded ] || continue
		assert_eq "$(unit_prop "$u" ActiveState)/$(unit_prop "$u" Result)" active/success "$u"
	done
}

check_no_ordering_cycle() {
	if journalctl -b -q --no-pager | grep -qi 'ordering cycle'; then
		check_failed "ordering cycle in the journal: $(journalctl -b -q --no-pager | grep -i 'ordering cycle' | head -n 3)"
	else
		ok "no ordering cycle in the journal"
	fi
}

case $E2E_BOOT in
1)
	step "boot 1: multi-user.target is reached before the role file exists"
	assert_eq "$(unit_prop multi-user.target ActiveState)" active "multi-user.target"
	assert_fails test -e "$ROLE_FILE"
	note "multi-user.target reached $(boot_ms) ms after systemd started; cloud-final: $(unit_prop cloud-final.service ActiveState)"
	check_output_stub
	check_consumer_held
	assert_eq "$(unit_prop "$WAIT" SubState)" running "$WAIT SubState (waiting, holding nothing)"
	check_wait_holds_no_job
	# Restarting a held consumer (a reload after an edit, say) holds it again: not an error.
	rc=0
	out=$(unitsmith reload --restart "$CONSUMER" 2>&1) || rc=$?
	echo "$out" | sed 's/^/# reload: /'
	assert_eq "$rc" 0 "unitsmith reload --restart $CONSUMER exit status while held"
	assert_contains "$out" "held by env gate" "reload output"
	check_consumer_held

	step "cloud-init's runcmd writes the role file; the consumer runs on it within seconds"
	wait_for --timeout 120 test -s "$ROLE_FILE" || fail "cloud-init did not write $ROLE_FILE"
	wait_for --timeout 20 unit_in_state "$CONSUMER" running || check_failed "$CONSUMER not running 20 s after the file"
	written_us=$(($(stat -c %Y "$ROLE_FILE") * 1000000))
	started_us=$(($(date -d "$(unit_prop "$CONSUMER" ExecMainStartTimestamp)" +%s) * 1000000))
	lag=$(((started_us - written_us) / 1000000))
	note "$CONSUMER started ~$lag s after the role file was last written"
	if [ "$lag" -le 5 ]; then ok "the consumer ran within 5 s of the file"; else check_failed "the consumer ran $lag s after the file"; fi
	check_output_real
	check_consumer_real
	check_consumer_never_ran_on_stub
	assert_eq "$(unit_prop "$CONSUMER" NRestarts)" 0 "$CONSUMER NRestarts (its Restart= never fired)"

	step "every cloud-init stage succeeded; the ci gate opened on result.json"
	check_cloud_init_done
	wait_for --timeout 30 unit_in_state "$CI_CONSUMER" running || check_failed "$CI_CONSUMER not running after cloud-init finished"
	assert_eq "$(ci_consumer_env)" e2e-instance-0001 "INSTANCE_ID in $CI_CONSUMER's environment"
	assert_eq "$(unit_prop "$CI_CONSUMER" NRestarts)" 0 "$CI_CONSUMER NRestarts"
	if journalctl -b -q --no-pager -u "$CI_WAIT" -o cat | grep -q "$RESULT_JSON"; then ok "$CI_WAIT named $RESULT_JSON"; else note "$CI_WAIT journal: $(journalctl -b -q --no-pager -u "$CI_WAIT" -o cat | tail -n 3)"; fi

	step "no cycle, no start limit, nothing failed, no secret in the journal"
	check_no_ordering_cycle
	check_no_start_limit
	check_failed_units ""
	check_secret_not_logged
	show_gate_journal
	;;
2)
	step "boot 2: the fast path, creds' wait unit never starts"
	check_output_real
	check_wait_never_started
	check_consumer_started_after_populate

	step "boot 2: the ci consumer runs on the env kept from boot 1 while its gate waits"
	assert_eq "$(unit_prop "$CI_CONSUMER" SubState)" running "$CI_CONSUMER SubState"
	assert_eq "$(ci_consumer_env)" e2e-instance-0001 "INSTANCE_ID in $CI_CONSUMER's environment"
	held=$(journalctl -b -q --no-pager -u "$CI_CONSUMER" -o cat | grep -c -e 'held by env gate' -e "Skipped due to 'exec-condition'" || true)
	assert_eq "$held" 0 "times $CI_CONSUMER was held in boot 2"
	check_cloud_init_done
	wait_for --timeout 30 journal_says "$CI_WAIT" 'Deactivated successfully' || check_failed "$CI_WAIT did not end after cloud-init finished"
	runs=$(journalctl -b -q --no-pager -o cat | grep -c 'e2e-write-role-file' || true)
	assert_eq "$runs" 0 "runcmd runs in boot 2 (per instance: once)"
	check_no_ordering_cycle
	check_no_start_limit
	check_failed_units ""
	check_secret_not_logged
	;;
esac
