#!/bin/bash
# Reload overhead, measured (issue 12, item 6): tests/bench/reload-vs-systemctl.sh in the guest.
# 50 Quadlet units (the podman TEST STAND-IN, guest/podman-standin, NOT podman), every file
# edited each round, then `unitsmith reload --restart-changed` against `systemctl daemon-reload
# && systemctl restart` of the same 50 units, alternately, 11 rounds after a warm-up: the median
# of the per-round ratios must be at most E2E_RELOAD_MAX_RATIO (run.sh's environment, default
# 1.2; setup.sh carries it into the guest). The stand-in starts in milliseconds, so reload's
# own work weighs more here than with real containers.
# e2e-timeout: 300
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

install_podman_standin
max=$(cat /usr/local/lib/e2e/reload-bench.max-ratio)
step "50 changed units: unitsmith reload --restart-changed vs systemctl daemon-reload && restart"
rc=0
out=$(MAX_RATIO=$max /usr/local/lib/e2e/reload-vs-systemctl.sh 50 11 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
line=$(grep '^reload bench:' <<<"$out" | head -n 1)
[ -n "$line" ] || fail "the bench printed no result"
assert_eq "$rc" 0 "bench exit status (median ratio at most $max)"
