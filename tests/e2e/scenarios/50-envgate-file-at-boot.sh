#!/bin/bash
# Env gate, file present at boot (the fast path): /etc/unitsmith/creds.envgate gates
# consumer.service (Restart=always, fails fast without AXIOM_TOKEN) on /etc/app/worker.env,
# which is there when the guest boots. Required:
#   - populate (creds.service) wrote the REAL env file before the consumer started, in
#     milliseconds: the consumer started once, with the token, and never ran on a stub;
#   - the wait unit (creds-wait.service) was never started;
#   - the output is mode 0600, owner root, marked as real content; no secret in the journal.
# Files: 50-envgate-file-at-boot.d/shared/ (shared by the 5x-envgate-* scenarios).
# e2e-timeout: 120
# e2e-guests: bookworm testing
. /e2e/lib.sh
. /usr/local/lib/e2e-envgate.sh

step "the generator made the gate's units"
assert_eq "$(unit_prop "$GATE" LoadState)" loaded "$GATE LoadState"
assert_eq "$(unit_prop "$WAIT" LoadState)" loaded "$WAIT LoadState"
assert_contains "$(unit_prop "$CONSUMER" DropInPaths)" 50-unitsmith-envgate-creds.conf "$CONSUMER DropInPaths"
assert_contains " $(unit_prop "$CONSUMER" After) " " $GATE " "$CONSUMER After"

step "populate ran once, fast, and opened the gate at boot"
assert_eq "$(unit_prop "$GATE" ActiveState)/$(unit_prop "$GATE" SubState)" active/exited "$GATE state"
assert_eq "$(unit_prop "$GATE" Result)" success "$GATE Result"
check_populate_fast
check_output_real
check_wait_never_started

step "the consumer started after the real env file was written, once, with the real env"
check_consumer_started_after_populate

step "boot"
note "multi-user.target reached $(boot_ms) ms after systemd started"
check_failed_units ""
check_no_start_limit
check_secret_not_logged
show_gate_journal
