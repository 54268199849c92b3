#!/bin/bash
# The bench script (tests/bench/reload-vs-systemctl.sh), present in the guest at boot, and the
# ratio it must not exceed: E2E_RELOAD_MAX_RATIO from run.sh's environment (the guest does not
# inherit it), so that a lower bound can be set to watch the scenario fail.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
install -D -m 0755 "$here/../../../bench/reload-vs-systemctl.sh" "$1/usr/local/lib/e2e/reload-vs-systemctl.sh"
printf '%s\n' "${E2E_RELOAD_MAX_RATIO:-1.2}" >"$1/usr/local/lib/e2e/reload-bench.max-ratio"
