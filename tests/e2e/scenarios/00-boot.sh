#!/bin/bash
# Sanity check of the harness itself (cheap, runs first): the guest really is a booted
# systemd, the way a Debian 12 host is, and our build is installed where systemd looks.
# e2e-timeout: 60
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

step "systemd is PID 1 and the boot completed"
assert_eq "$(cat /proc/1/comm)" systemd "PID 1"
assert_eq "$(systemd-detect-virt --container)" systemd-nspawn "container type"
assert_eq "$(unit_prop multi-user.target ActiveState)" active "multi-user.target ActiveState"
# A pure cgroup v2 tree (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1), like a real Debian 12 host.
assert_eq "$(stat -fc %T /sys/fs/cgroup)" cgroup2fs "/sys/fs/cgroup type"
note "$(systemctl --version | head -n 1)"
note "system state: $(systemctl is-system-running || true)"
systemctl --failed --no-legend --plain | sed 's/^/# failed unit: /'

step "the project is installed where systemd looks for it"
assert_succeeds test -x /usr/local/lib/systemd/system-generators/unitsmith-generator
assert_succeeds test -x /usr/local/bin/unitsmith
assert_succeeds test -L /usr/local/lib/systemd/user-generators/unitsmith-user-generator
