#!/usr/bin/env bash
# check-maintscripts.sh DEB: the package's maintainer scripts as dpkg runs them for another
# root (dpkg --root: DPKG_ROOT set, no systemd to talk to, as in a chroot or an image build),
# with the package's own binary and the real deb-systemd-helper, through a life cycle:
#   configure -> takeover (the image's) beside an administrator's own mask -> remove -> purge,
#   and the same when the prerm's `unitsmith takeover --undo --recorded` cannot run.
# Checks: only the link takeover made is removed, the administrator's mask stays, purge leaves
# no record and no enablement link of the timer, every script exits 0 on an odd state and
# when run twice. The booted life cycle (reloads, running containers) is e2e 89-deb-lifecycle.
set -euo pipefail
deb=$1
t=$(mktemp -d "${TMPDIR:-/tmp}/unitsmith-maintscripts.XXXXXX")
trap 'rm -rf "$t"' EXIT
root=$t/root
mkdir -p "$root"
chmod 0755 "$t" "$root"
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$t/DEBIAN"

fail=0
check() { # WHAT CMD...
	local what=$1
	shift
	if "$@"; then :; else
		echo "check-maintscripts: FAILED: $what"
		fail=1
	fi
}
# One maintainer script, as dpkg --root runs it; its output is kept for the checks.
script() { # NAME ARGS...
	local name=$1 rc=0
	shift
	DPKG_ROOT=$root DPKG_MAINTSCRIPT_PACKAGE=unitsmith DPKG_MAINTSCRIPT_NAME=$name \
		DPKG_MAINTSCRIPT_ARCH=$(dpkg --print-architecture) \
		"$t/DEBIAN/$name" "$@" >"$t/out" 2>&1 || rc=$?
	check "$name $* exits 0 (exit $rc: $(tr '\n' ' ' <"$t/out"))" test "$rc" = 0
}
is_devnull_link() { [ -L "$1" ] && [ "$(readlink "$1")" = /dev/null ]; }
absent() { [ ! -e "$1" ] && [ ! -L "$1" ]; }

sys_mask=$root/etc/systemd/system-generators/podman-system-generator
user_mask=$root/etc/systemd/user-generators/podman-user-generator
timer_link=$root/etc/systemd/system/timers.target.wants/unitsmith-reconcile.timer
dsh_state=$root/var/lib/systemd/deb-systemd-helper-enabled/unitsmith-reconcile.timer.dsh-also
record=$root/var/lib/unitsmith/takeover

script postinst configure
check "postinst records the timer's enablement links for purge" grep -qx /etc/systemd/system/timers.target.wants/unitsmith-reconcile.timer "$dsh_state"
check "postinst does not enable the timer" absent "$timer_link"
check "postinst does not take over" absent "$sys_mask"

# The administrator: enables the timer, masks Podman's user generator by hand, takes over.
mkdir -p "$(dirname "$timer_link")" "$(dirname "$user_mask")"
ln -s /usr/lib/systemd/system/unitsmith-reconcile.timer "$timer_link"
ln -s /dev/null "$user_mask"
"$root/usr/bin/unitsmith" takeover --root "$root" >"$t/out" 2>&1 || { cat "$t/out"; fail=1; }
"$root/usr/bin/unitsmith" takeover --user --root "$root" >"$t/out" 2>&1 || { cat "$t/out"; fail=1; }
check "takeover made the system mask" is_devnull_link "$sys_mask"
check "takeover recorded the system mask" grep -qx /etc/systemd/system-generators/podman-system-generator "$record"
check "takeover did not record the administrator's user mask" bash -c "! grep -q podman-user-generator '$record'"

script prerm remove
check "prerm removes the link takeover made" absent "$sys_mask"
check "prerm leaves the administrator's mask" is_devnull_link "$user_mask"
check "prerm leaves no record of removed links" absent "$record"
script postrm remove
check "remove keeps the timer's enablement (configuration, until purge)" test -L "$timer_link"
script prerm remove

# The prerm cannot run the binary (broken, or gone): postrm removes what takeover recorded.
"$root/usr/bin/unitsmith" takeover --root "$root" >"$t/out" 2>&1 || { cat "$t/out"; fail=1; }
mv "$root/usr/bin/unitsmith" "$t/unitsmith"
script prerm remove
check "prerm reports that the undo failed" grep -q "removal goes on" "$t/out"
check "the link is still there after the failed prerm" is_devnull_link "$sys_mask"
script postrm remove
check "postrm removes the link takeover recorded" absent "$sys_mask"
check "postrm says so" grep -q "removed /etc/systemd/system-generators/podman-system-generator" "$t/out"
check "postrm leaves the administrator's mask" is_devnull_link "$user_mask"

# A recorded link replaced by an administrator's generator: left as it is.
mkdir -p "$root/var/lib/unitsmith"
printf '/etc/systemd/system-generators/podman-system-generator\n' >"$record"
printf '#!/bin/sh\n' >"$sys_mask"
script postrm remove
check "postrm leaves a file that replaced takeover's link" test -f "$sys_mask"
check "postrm reports it" grep -q "no longer the link" "$t/out"
rm "$sys_mask"

script postrm purge
check "purge removes the timer's enablement link" absent "$timer_link"
check "purge removes deb-systemd-helper's record" absent "$dsh_state"
check "purge removes takeover's state directory" absent "$root/var/lib/unitsmith"
check "purge leaves the administrator's mask" is_devnull_link "$user_mask"
script postrm purge

[ "$fail" = 0 ] || exit 1
echo "check-maintscripts: prerm/postrm/postinst under DPKG_ROOT: only takeover's link undone, purge leaves nothing, every step exits 0"
