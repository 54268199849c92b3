#!/bin/bash
# Runs INSIDE the guest, as e2e-harness.service, once per boot, after multi-user.target.
# Runs the scenario, saves its output, exit status and this boot's journal to /e2e/out (a
# directory of the host, bound read-write), then stops the guest with the scenario's status.
# The host decides from /e2e/out/rc-bootN whether to boot again (see run.sh).
#
#   run-scenario.sh               ExecStart: the normal run
#   run-scenario.sh --after-stop  ExecStopPost: save the journal if the run was cut short
set -u
out=/e2e/out
boot=$(cat "$out/boot") # written by the host before each boot

save_journal() {
	journalctl -b --no-pager -o short-precise >"$out/journal-boot$boot.txt" 2>&1
	journalctl -b --no-pager -o short-precise -p warning >"$out/warnings-boot$boot.txt" 2>&1
}

# PID 1 runs generators with stdout/stderr on /dev/null, and they log to /dev/kmsg, which
# nspawn does not give containers: what our generator said at boot is lost. Run it once more
# by hand over the same directories (its stderr is kept), and list what it wrote.
rerun_generator() {
	local gen=/usr/lib/systemd/system-generators/unitsmith-generator dir rc=0 f
	echo "# unitsmith-generator re-run by hand after the scenario, boot $boot, as PID 1 would"
	echo "# run it (its messages at boot went to /dev/kmsg, which a container does not have)"
	[ -x "$gen" ] || { echo "# $gen: not installed"; return 0; }
	dir=$(mktemp -d)
	mkdir -p "$dir/normal" "$dir/early" "$dir/late"
	timeout 60 "$gen" "$dir/normal" "$dir/early" "$dir/late" || rc=$?
	echo "# exit status $rc; files written:"
	(cd "$dir" && find . -mindepth 2 | sort)
	for f in $(cd "$dir" && find . -mindepth 2 -type f | sort); do
		printf '\n# ==> %s <==\n' "$f"
		cat "$dir/$f"
	done
	rm -rf "$dir"
}

# After a normal run the results are saved already; otherwise the scenario was stopped half
# way (the host's time limit), and its journal is all there is to learn why.
if [ "${1:-}" = --after-stop ]; then
	[ -f "$out/rc-boot$boot" ] || save_journal
	exit 0
fi

export E2E_SCENARIO E2E_BOOTS E2E_GUEST E2E_BOOT=$boot E2E_OUT=$out
E2E_SCENARIO=$(cat /e2e/scenario-name)
E2E_GUEST=$(cat /e2e/guest)
E2E_BOOTS=$(cat /e2e/boots)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

echo "=== $E2E_SCENARIO: boot $boot of $E2E_BOOTS, $(date -u +%FT%TZ)" >>"$out/scenario.log"
(cd / && exec /e2e/scenario.sh) </dev/null >>"$out/scenario.log" 2>&1
rc=$?
echo "=== $E2E_SCENARIO: boot $boot exit status $rc" >>"$out/scenario.log"

rerun_generator >"$out/generator-boot$boot.txt" 2>&1
save_journal
# The status file is written last: its presence means everything above is complete.
echo "$rc" >"$out/rc-boot$boot"
sync

# In a container, `systemctl exit N` shuts the guest down and makes N nspawn's exit status.
systemctl --no-block exit "$rc"
