#!/bin/bash
# Host side, before boot: the podman TEST STAND-IN (tests/e2e/guest/podman-standin, NOT
# podman) at /usr/bin/podman, so the generated units can start at boot (lib.sh's
# install_podman_standin would come too late: they start before the scenario runs).
set -euo pipefail
install -D -m 0755 "$(dirname "$0")/../../guest/podman-standin" "$1/usr/bin/podman"
