#!/bin/bash
# Sanity check of the harness itself (cheap, runs first): the guest really is a booted
# systemd, the way a Debian host is, and unitsmith is installed from its package where systemd
# looks; the testing and trixie guests have the real clients (systemd 262 / 257, Podman 5.8 /
# 5.4, cloud-init), and nothing failed at boot there.
# e2e-timeout: 60
# e2e-guests: bookworm testing trixie
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

step "unitsmith is installed from its .deb, where systemd looks for it"
assert_eq "$(dpkg-query -W -f='${Status}' unitsmith)" "install ok installed" "dpkg status of unitsmith"
assert_eq "$(dpkg -S /usr/bin/unitsmith)" "unitsmith: /usr/bin/unitsmith" "owner of /usr/bin/unitsmith"
assert_succeeds test -x /usr/lib/systemd/system-generators/unitsmith-generator
assert_succeeds test -x /usr/bin/unitsmith
assert_succeeds test -L /usr/lib/systemd/user-generators/unitsmith-user-generator
assert_eq "$(unit_prop unitsmith-reconcile.timer LoadState)" loaded "unitsmith-reconcile.timer LoadState"

case $E2E_GUEST in
testing | trixie)
	step "the $E2E_GUEST guest has the real clients"
	version=$(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
	want_systemd=262 want_podman="podman version 5.8."
	[ "$E2E_GUEST" = testing ] || want_systemd=257 want_podman="podman version 5.4."
	if [ "${version:-0}" -ge "$want_systemd" ]; then ok "systemd $version"; else check_failed "systemd $version, expected >= $want_systemd"; fi
	note "$(podman --version); $(cloud-init --version 2>&1)"
	assert_contains "$(podman --version)" "$want_podman" "podman --version"
	assert_succeeds test -x /usr/lib/systemd/system-generators/podman-system-generator
	assert_succeeds test -s /usr/share/e2e/images/busybox.tar
	assert_eq "$(stat -fc %T /var/lib/containers)" tmpfs "image storage (/var/lib/containers)"
	# (is-system-running says "starting" until the harness's own start job ends.)
	assert_eq "$(systemctl --failed --no-legend --plain | grep -c . || true)" 0 "failed units at boot"
	;;
esac
