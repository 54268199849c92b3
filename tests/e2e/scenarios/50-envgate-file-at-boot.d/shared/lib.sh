# Checks shared by the env gate scenarios (5x-envgate-*), sourced in the guest after
# /e2e/lib.sh as /usr/local/lib/e2e-envgate.sh. Names match shared/seed.sh.

GATE=creds.service
WAIT=creds-wait.service
CONSUMER=consumer.service
OUTPUT=/etc/consumer/consumer.env
ROLE_FILE=/etc/app/worker.env
# What the consumer must see, byte for byte (the role file quotes it; the gate re-quotes it).
TOKEN='s3cr3t "q" $x \back'
DATASET=e2e-dataset
# A part of the token that must never appear in the journal.
SECRET=s3cr3t

# Monotonic microseconds of a unit property (0 when it never happened).
mono() { # UNIT PROPERTY
	local v
	v=$(unit_prop "$1" "$2")
	echo "${v:-0}"
}

# Milliseconds from the start of systemd to multi-user.target: the boot time that matters.
boot_ms() {
	local start reached
	start=$(systemctl show -P UserspaceTimestampMonotonic)
	reached=$(mono multi-user.target ActiveEnterTimestampMonotonic)
	[ "$reached" -gt 0 ] || { echo -1; return; }
	echo $(((reached - start) / 1000))
}

ms_between() { # FROM_US TO_US
	echo $((($2 - $1) / 1000))
}

# The value of VAR in the environment of the consumer's main process.
consumer_env() { # VAR
	local pid
	pid=$(unit_prop "$CONSUMER" MainPID)
	[ "$pid" -gt 0 ] || return 1
	tr '\0' '\n' <"/proc/$pid/environ" | sed -n "s/^$1=//p"
}

check_output_real() {
	local first
	first=$(head -n 1 "$OUTPUT" 2>/dev/null) || first="(missing)"
	assert_contains "$first" "# unitsmith env gate real" "first line of $OUTPUT"
	assert_eq "$(stat -c '%a %U' "$OUTPUT" 2>/dev/null)" "600 root" "$OUTPUT mode and owner"
}

check_output_stub() {
	local first
	first=$(head -n 1 "$OUTPUT" 2>/dev/null) || first="(missing)"
	assert_contains "$first" "# unitsmith env gate stub" "first line of $OUTPUT"
	assert_file_matches "$OUTPUT" '^AXIOM_TOKEN=$' "$OUTPUT (stub keys defined empty)"
}

# The consumer runs, with the real token and dataset from the gate.
check_consumer_real() { # [EXPECTED_TOKEN] [EXPECTED_DATASET]
	assert_eq "$(unit_prop "$CONSUMER" ActiveState)/$(unit_prop "$CONSUMER" SubState)" active/running "$CONSUMER state"
	assert_eq "$(consumer_env AXIOM_TOKEN)" "${1:-$TOKEN}" "AXIOM_TOKEN in the consumer's environment"
	assert_eq "$(consumer_env AXIOM_DATASET)" "${2:-$DATASET}" "AXIOM_DATASET in the consumer's environment"
}

# The consumer did not run on the stub: held (skipped by its ExecCondition=), not failed.
check_consumer_held() {
	assert_eq "$(unit_prop "$CONSUMER" ActiveState)" inactive "$CONSUMER ActiveState (held)"
	assert_eq "$(unit_prop "$CONSUMER" Result)" exec-condition "$CONSUMER Result (skipped by ExecCondition=)"
	assert_eq "$(unit_prop "$CONSUMER" NRestarts)" 0 "$CONSUMER NRestarts"
}

# The journal is the proof: a wait unit that ran and ended may be unloaded (garbage collected),
# which clears its properties too.
check_wait_never_started() {
	assert_eq "$(unit_prop "$WAIT" InvocationID)" "" "$WAIT InvocationID (never started)"
	local lines
	lines=$(journalctl -b -q -u "$WAIT" --no-pager | wc -l)
	assert_eq "$lines" 0 "journal lines of $WAIT"
}

check_no_start_limit() {
	local hit
	hit=$(systemctl list-units --all --plain --no-legend | awk '{ print $1 }' |
		xargs -r systemctl show -p Id -p Result -- | awk -F= '/^Id=/ { id = $2 } /^Result=start-limit-hit/ { print id }')
	assert_eq "$hit" "" "units whose Result is start-limit-hit"
	if journalctl -b -q --no-pager | grep -q 'Start request repeated too quickly'; then
		check_failed "the journal has 'Start request repeated too quickly'"
	else
		ok "no 'Start request repeated too quickly' in the journal"
	fi
}

check_failed_units() { # EXPECTED (space-separated, "" for none)
	local failed
	failed=$(systemctl --failed --plain --no-legend | awk '{ print $1 }' | sort | xargs)
	assert_eq "$failed" "$1" "systemctl --failed"
}

check_secret_not_logged() { # [SECRET]
	if journalctl -b -q --no-pager -o cat | grep -qF -- "${1:-$SECRET}"; then
		check_failed "a secret value is in the journal: $(journalctl -b -q --no-pager | grep -F -- "${1:-$SECRET}" | head -n 3)"
	else
		ok "no secret value in the journal"
	fi
}

# No start job is queued for the wait unit: it holds nothing up (Type=exec).
check_wait_holds_no_job() {
	local jobs
	jobs=$(systemctl list-jobs --no-legend --plain 2>/dev/null | grep -F "$WAIT" || true)
	assert_eq "$jobs" "" "queued jobs for $WAIT"
}

show_gate_journal() {
	note "journal of the gate, its wait unit and the consumer:"
	journalctl -b -q --no-pager -o short-monotonic -u "$GATE" -u "$WAIT" -u "$CONSUMER" | tail -n 40 | sed 's/^/#   /'
}

# The consumer's ExecStart never ran with the stub env (it says so when it does).
check_consumer_never_ran_on_stub() {
	if journalctl -b -q --no-pager -u "$CONSUMER" -o cat | grep -q 'no AXIOM_TOKEN'; then
		check_failed "$CONSUMER ran on the stub env: $(journalctl -b -q --no-pager -u "$CONSUMER" -o cat | grep -c 'no AXIOM_TOKEN') times"
	else
		ok "$CONSUMER never ran on the stub env"
	fi
}

# For wait_for (which runs a command again and again, so the test must be in a function).
unit_has_exited() { [ "$(mono "$1" ExecMainExitTimestampMonotonic)" -gt 0 ]; }
unit_in_state() { [ "$(unit_prop "$1" SubState)" = "$2" ]; } # UNIT SUBSTATE

# The wait unit ran and ended well (its journal says so: once ended it may be unloaded).
check_wait_succeeded() {
	if journalctl -b -q --no-pager -u "$WAIT" -o cat | grep -q 'Deactivated successfully'; then
		ok "$WAIT ended successfully"
	else
		check_failed "$WAIT did not end successfully: $(journalctl -b -q --no-pager -u "$WAIT" -o cat | tail -n 3)"
	fi
}

journal_says() { journalctl -b -q --no-pager -u "$1" -o cat | grep -qF -- "$2"; } # UNIT TEXT

# The consumer's first start already found the real env: it was never held (skipped).
check_consumer_never_held() {
	local held
	held=$(journalctl -b -q --no-pager -u "$CONSUMER" -o cat | grep -c -e 'held by env gate' -e "Skipped due to 'exec-condition'" || true)
	assert_eq "$held" 0 "times $CONSUMER was held on the stub"
}

# populate is on the boot path (the consumers and multi-user.target wait for it): milliseconds.
# (1 s allows for a loaded CI machine; it takes ~2-30 ms.)
check_populate_fast() {
	local ms
	ms=$(ms_between "$(mono "$GATE" ExecMainStartTimestampMonotonic)" "$(mono "$GATE" ExecMainExitTimestampMonotonic)")
	note "populate ($GATE) took $ms ms"
	if [ "$ms" -ge 0 ] && [ "$ms" -lt 1000 ]; then ok "populate took under 1 s"; else check_failed "populate took $ms ms"; fi
}

# The fast path's promise: the consumer started once, after populate wrote the real env, with
# that env, and was never held or run on the stub.
check_consumer_started_after_populate() {
	local gate_done consumer_start
	gate_done=$(mono "$GATE" ExecMainExitTimestampMonotonic)
	consumer_start=$(mono "$CONSUMER" ExecMainStartTimestampMonotonic)
	if [ "$consumer_start" -ge "$gate_done" ] && [ "$gate_done" -gt 0 ]; then
		ok "$CONSUMER started $(ms_between "$gate_done" "$consumer_start") ms after populate finished"
	else
		check_failed "$CONSUMER started at $consumer_start us, populate finished at $gate_done us"
	fi
	check_consumer_real
	assert_eq "$(unit_prop "$CONSUMER" NRestarts)" 0 "$CONSUMER NRestarts"
	check_consumer_never_ran_on_stub
	check_consumer_never_held
}
