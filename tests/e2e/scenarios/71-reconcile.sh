#!/bin/bash
# `unitsmith reconcile` and its timer (issue 7). At boot: lost, crash, stopped (enabled units
# generated from .container files), manual (generated, not enabled), extra and stubborn (plain
# units listed in /etc/unitsmith/reconcile.conf) all run; unitsmith-reconcile.timer is enabled.
# Then, right after a timer tick: lost's generated unit file is deleted from
# /run/systemd/generator, crash and extra are killed into `failed`, stopped is stopped with
# `systemctl stop`, stubborn too (it exits 143 on SIGTERM, so it ends `failed`), manual is
# killed. After ONE timer tick: lost, crash, extra are back; stopped and stubborn stay
# stopped (also after another tick); manual is not touched.
# Then, by hand (timer stopped): units systemd lost entirely (a daemon-reload while the
# generator was missing) come back with one daemon-reload, an operator stop survives even
# that; --dry-run changes nothing; a unit that cannot be repaired and a failure stub make the
# exit status 1.
# The podman TEST STAND-IN plays the containers (71-reconcile.d/setup.sh puts it in place).
# Inputs: 71-reconcile.d/root/.
# e2e-timeout: 300
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

SVC=unitsmith-reconcile.service
TIMER=unitsmith-reconcile.timer
GEN=/run/systemd/generator

runs() { journalctl -b -u "$SVC" -o cat | grep -c '^reconcile: ' || true; }
ran() { [ "$(runs)" -ge "$1" ] && [ "$(unit_prop "$SVC" ActiveState)" != activating ]; }
# Wait for the timer's next run of the service to finish; prints nothing, fails the check.
next_tick() {
	local n
	n=$(runs)
	if wait_for --timeout 50 --interval 0.5 ran $((n + 1)); then
		ok "the timer ran $SVC (run $((n + 1)) of this boot)"
	else
		fail "the timer did not run $SVC within 50 s"
	fi
}
state() { echo "$(unit_prop "$1" LoadState)/$(unit_prop "$1" ActiveState)"; }
is_state() { [ "$(state "$1")" = "$2" ]; }

step "boot: everything runs, the timer is active"
for u in lost crash stopped extra stubborn; do
	assert_eq "$(state $u.service)" loaded/active "$u.service"
done
systemctl start manual.service
assert_eq "$(state manual.service)" loaded/active "manual.service (started by hand)"
assert_eq "$(unit_prop $TIMER ActiveState)" active "$TIMER ActiveState"
assert_eq "$(systemctl is-enabled $TIMER)" enabled "$TIMER is enabled"
note "$(systemctl list-timers --no-pager $TIMER | head -n 2 | tail -n 1)"
next_tick
last=$(journalctl -b -u "$SVC" -o cat | grep '^reconcile: ' | tail -n 1)
assert_contains "$last" "0 not repaired" "summary of a run with nothing to do"
assert_eq "$(unit_prop $SVC Result)" success "$SVC Result"
note "$last"

step "break: right after that tick"
since=$(date +%s)
rm "$GEN/lost.service" "$GEN/multi-user.target.wants/lost.service"
systemctl kill -s KILL crash.service extra.service manual.service
systemctl stop stopped.service stubborn.service || true
wait_for --timeout 10 is_state crash.service loaded/failed
wait_for --timeout 10 is_state extra.service loaded/failed
wait_for --timeout 10 is_state manual.service loaded/failed
assert_eq "$(state stopped.service)" loaded/inactive "stopped.service after systemctl stop"
assert_eq "$(state stubborn.service)" loaded/failed "stubborn.service after systemctl stop (exit 143)"
assert_eq "$(unit_prop lost.service NeedDaemonReload)" yes "lost.service NeedDaemonReload (its file is gone)"

step "after one timer tick: lost, crash and extra are back; stopped and stubborn stay down"
next_tick
tick=$(journalctl -b -u "$SVC" -o cat --since "@$since")
echo "$tick" | sed 's/^/# reconcile: /'
assert_succeeds test -f "$GEN/lost.service"
assert_succeeds test -L "$GEN/multi-user.target.wants/lost.service"
assert_eq "$(state lost.service)" loaded/active "lost.service"
assert_eq "$(unit_prop lost.service NeedDaemonReload)" no "lost.service NeedDaemonReload"
assert_eq "$(state crash.service)" loaded/active "crash.service"
assert_eq "$(state extra.service)" loaded/active "extra.service (from reconcile.conf)"
assert_eq "$(state stopped.service)" loaded/inactive "stopped.service (stopped on purpose)"
assert_eq "$(state stubborn.service)" loaded/failed "stubborn.service (stopped on purpose, failed)"
assert_eq "$(state manual.service)" loaded/failed "manual.service (not enabled: not reconcile's)"
assert_eq "$(unit_prop $SVC Result)" success "$SVC Result (everything repaired)"
assert_file_matches <(echo "$tick") '^lost\.service .*daemon-reload .*repaired' "the run's table"
assert_file_matches <(echo "$tick") '^crash\.service .*failed.*reset-failed \+ start .*repaired' "the run's table"
assert_file_matches <(echo "$tick") '^extra\.service .*reset-failed \+ start .*repaired' "the run's table"
assert_file_matches <(echo "$tick") '^stopped\.service .*left alone' "the run's table"
assert_file_matches <(echo "$tick") '^stubborn\.service .*left alone: stopped on purpose' "the run's table"
assert_not_contains "$tick" "manual.service" "the run's output"

step "another tick: the stopped units still stay down"
next_tick
assert_eq "$(state stopped.service)" loaded/inactive "stopped.service"
assert_eq "$(state stubborn.service)" loaded/failed "stubborn.service"
assert_eq "$(state crash.service)" loaded/active "crash.service"

step "by hand: units systemd lost entirely come back with one daemon-reload"
systemctl stop $TIMER
gen=/usr/lib/systemd/system-generators/unitsmith-generator
mv "$gen" /root/unitsmith-generator.off
systemctl daemon-reload # as during a package upgrade: the generator is missing
mv /root/unitsmith-generator.off "$gen"
assert_eq "$(unit_prop lost.service LoadState)" not-found "lost.service LoadState after a reload without the generator"
assert_eq "$(unit_prop stopped.service LoadState)" not-found "stopped.service LoadState after a reload without the generator"
systemctl kill -s KILL crash.service
wait_for --timeout 10 sh -c '[ "$(systemctl show -P ActiveState crash.service)" = failed ]'
rc=0
out=$(unitsmith reconcile 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 0 "unitsmith reconcile exit status"
assert_contains "$out" "daemon-reload done" "output"
assert_eq "$(state lost.service)" loaded/active "lost.service"
assert_eq "$(state crash.service)" loaded/active "crash.service"
assert_eq "$(state stopped.service)" loaded/inactive "stopped.service (its stop is in the journal: left alone)"
assert_eq "$(state stubborn.service)" loaded/failed "stubborn.service"

step "--dry-run changes nothing; a unit that cannot be repaired is exit status 1"
touch /run/extra-broken
systemctl kill -s KILL extra.service
wait_for --timeout 10 sh -c '[ "$(systemctl show -P ActiveState extra.service)" = failed ]'
rc=0
out=$(unitsmith reconcile --dry-run 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 1 "reconcile --dry-run exit status (a repair is due)"
assert_file_matches <(echo "$out") '^extra\.service .*would start' "--dry-run output"
assert_eq "$(state extra.service)" loaded/failed "extra.service after --dry-run"
rc=0
out=$(unitsmith reconcile 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 1 "reconcile exit status (extra cannot start)"
assert_file_matches <(echo "$out") '^extra\.service .*NOT REPAIRED' "output"
assert_contains "$out" "1 not repaired" "summary"
rm /run/extra-broken
rc=0
out=$(unitsmith reconcile --json 2>&1) || rc=$?
assert_eq "$rc" 0 "reconcile exit status once extra can start"
assert_contains "$out" '"unit":"extra.service"' "--json output"
assert_eq "$(state extra.service)" loaded/active "extra.service"

step "a failure stub is reported, never started"
printf '[Container]\nImag=docker.io/library/busybox:latest\n\n[Install]\nWantedBy=multi-user.target\n' \
	>/etc/containers/systemd/broken.container
systemctl daemon-reload
rc=0
out=$(unitsmith reconcile 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 1 "reconcile exit status with a failure stub"
assert_file_matches <(echo "$out") '^broken\.service .*NOT REPAIRED: failure stub' "output"
assert_eq "$(unit_prop broken.service ActiveState)" inactive "broken.service was not started"
