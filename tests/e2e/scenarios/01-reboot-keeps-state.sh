#!/bin/bash
# Harness check: a scenario declaring "e2e-boots: 2" runs once per boot (E2E_BOOT=1, then 2)
# in the same guest, rebooted with its disk kept: what boot 1 wrote is there in boot 2.
# Scenarios that test behaviour across a reboot (e.g. a Quadlet file written at run time is a
# unit at the next boot) are written the same way.
# e2e-boots: 2
# e2e-timeout: 60
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

case $E2E_BOOT in
1)
	step "boot 1: leave state behind"
	cat /proc/sys/kernel/random/boot_id >/var/lib/e2e-boot1-id
	echo kept >/etc/e2e-marker
	ok "wrote /etc/e2e-marker and /var/lib/e2e-boot1-id"
	;;
2)
	step "boot 2: the state is still there, in a new boot"
	assert_eq "$(cat /etc/e2e-marker 2>/dev/null)" kept "/etc/e2e-marker"
	boot1=$(cat /var/lib/e2e-boot1-id 2>/dev/null) || fail "/var/lib/e2e-boot1-id is gone"
	if [ "$boot1" != "$(cat /proc/sys/kernel/random/boot_id)" ]; then
		ok "boot id changed ($boot1 -> $(cat /proc/sys/kernel/random/boot_id))"
	else
		check_failed "same boot id as boot 1: the guest was not rebooted"
	fi
	assert_eq "$(unit_prop multi-user.target ActiveState)" active "multi-user.target ActiveState"
	;;
*) fail "unexpected E2E_BOOT=$E2E_BOOT" ;;
esac
