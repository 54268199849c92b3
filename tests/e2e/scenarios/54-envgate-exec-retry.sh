#!/bin/bash
# Env gate whose Exec= fails twice, then succeeds. The role file is there at boot; the gate
# imports VAULT_NAME from it and runs e2e-fetch-creds, which sees VAULT_NAME in its environment
# and prints AXIOM_TOKEN/AXIOM_DATASET. Its backend is "not ready" for the first two calls.
# Required:
#   - populate's call fails (call 1): the stub is written, the boot goes on, the wait unit
#     starts; its first call fails (call 2), it retries after the backoff (1 s) and succeeds
#     (call 3): the real env within the backoff, the consumer restarted with it;
#   - Exec='s stderr is in the journal, the secret it printed is not; no start limit, nothing
#     failed.
# e2e-timeout: 120
# e2e-guests: bookworm testing
. /e2e/lib.sh
. /usr/local/lib/e2e-envgate.sh

step "the gate opens once e2e-fetch-creds works"
wait_for --timeout 20 unit_in_state "$CONSUMER" running || check_failed "$CONSUMER is not running"
assert_eq "$(cat /var/lib/e2e/fetch-count 2>/dev/null)" 3 "calls of e2e-fetch-creds"
check_output_real
assert_file_matches "$OUTPUT" '^VAULT_NAME=vault-e2e$' "$OUTPUT (Import=VAULT_NAME)"
check_consumer_real tok-from-vault-e2e ds-creds
assert_eq "$(unit_prop "$CONSUMER" NRestarts)" 0 "$CONSUMER NRestarts (started by the gate, not by Restart=)"
check_consumer_never_ran_on_stub

step "within the backoff"
wait_for --timeout 10 unit_in_state "$WAIT" dead || true
check_wait_succeeded
# From populate's end (the wait unit starts right after it; a finished wait unit may already be
# unloaded, its timestamps gone) to the consumer's start.
gate_done=$(mono "$GATE" ExecMainExitTimestampMonotonic)
consumer_start=$(mono "$CONSUMER" ExecMainStartTimestampMonotonic)
took=$(ms_between "$gate_done" "$consumer_start")
note "the consumer ran $took ms after populate finished (backoff after the wait unit's first failure: 1 s)"
if [ "$took" -ge 900 ] && [ "$took" -le 3000 ]; then ok "real env within the backoff"; else check_failed "real env after $took ms"; fi
wait_log=$(journalctl -b -q --no-pager -u "$WAIT" -o cat)
assert_contains "$wait_log" "attempt 1: Exec=: /usr/local/libexec/e2e-fetch-creds failed (exit status: 1)" "$WAIT journal"
assert_contains "$wait_log" "at attempt 2" "$WAIT journal"
assert_contains "$wait_log" "restarted $CONSUMER" "$WAIT journal"
gate_log=$(journalctl -b -q --no-pager -u "$GATE" -o cat)
assert_contains "$gate_log" "e2e-fetch-creds: vault vault-e2e not ready (call 1)" "$GATE journal (Exec='s stderr)"
assert_contains "$gate_log" "failed (exit status: 1); $WAIT retries" "$GATE journal"
assert_contains "$wait_log" "e2e-fetch-creds: vault vault-e2e not ready (call 2)" "$WAIT journal (Exec='s stderr)"
assert_contains "$wait_log" "fetched from vault vault-e2e (call 3, args: --role worker)" "$WAIT journal (Exec='s stderr)"

step "nothing failed, no start limit, no secret logged"
check_failed_units ""
check_no_start_limit
check_secret_not_logged tok-from
check_secret_not_logged
show_gate_journal
