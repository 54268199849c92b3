#!/bin/bash
# Removals are applied (issue 12, item 2). Units from Quadlet files (a template with two
# instances among them) and an env gate run; then inputs are removed. Required:
#   - before any reload, `doctor` names each running unit whose input is gone (input-removed,
#     hint `unitsmith reload --restart-changed`), and nothing else;
#   - `unitsmith reload --restart-changed` stops exactly those (a template: its running
#     instances), clears their failed state (systemd forgets them), lists them as removed in
#     its table and JSON, and drops them from its state; the container is gone (`podman ps`);
#   - never touched: units that did not come from our inputs (a hand-written unit that was the
#     removed env gate's consumer; a unit an administrator's file of the same name takes over
#     when its input is removed), and the other units (same InvocationID, same container);
#   - `--keep-removed` leaves a unit running, listed as kept; `doctor` then names it; the next
#     reload without the option stops it;
#   - after a plain `systemctl daemon-reload` (the generated file gone, systemd knows only a
#     not-found running unit), doctor still names it and reload still stops it.
# bookworm: the podman TEST STAND-IN (guest/podman-standin, NOT podman); testing: the real
# Podman after `unitsmith takeover`, real containers.
# e2e-guests: bookworm testing
# e2e-timeout: 300
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

Q=/etc/containers/systemd
REAL=
if [ "$E2E_GUEST" = testing ]; then
	REAL=1
	assert_succeeds unitsmith takeover
	podman_image_ready
else
	install_podman_standin
fi
mkdir -p "$Q" /etc/unitsmith /etc/e2e

# A container unit NAME (container e2e-rm-NAME; a template's instances e2e-rm-NAME-INSTANCE).
container() { # NAME
	local cname=e2e-rm-${1%@}
	case $1 in *@) cname=$cname-%i ;; esac
	if [ -n "$REAL" ]; then
		# Its shell exits 0 on SIGTERM: a clean stop is inactive/success.
		printf '[Container]\nImage=%s\nPull=never\nContainerName=%s\nExec=/bin/sh -c "trap '\''exit 0'\'' TERM; while :; do sleep 1 & wait; done"\n\n[Service]\nTimeoutStopSec=15\n' \
			"$E2E_IMAGE" "$cname"
	else
		printf '[Container]\nImage=docker.io/library/busybox:latest\nContainerName=%s\nExec=sleep infinity\n' "$cname"
	fi >"$Q/$1.container.tmp"
	mv "$Q/$1.container.tmp" "$Q/$1.container"
}

# Running containers (podman ps), one name a line; the stand-in has none to list.
running_containers() {
	if [ -n "$REAL" ]; then podman ps --format '{{.Names}}'; fi
}
all_containers() {
	if [ -n "$REAL" ]; then podman ps -a --format '{{.Names}}'; fi
}

state_of() { echo "$(unit_prop "$1" LoadState)/$(unit_prop "$1" ActiveState)"; }

# A unit systemd still lists (loaded or remembered), else nothing.
listed() { systemctl list-units --all --plain --no-legend --full -- "$@"; }

step "setup: containers, a template with two instances, an env gate on a hand-written unit"
for n in keep gone kept migrated; do container "$n"; done
container tpl@
cat >/etc/systemd/system/admin.service <<'EOF'
[Unit]
Description=e2e: a hand-written unit, the env gate's consumer (not from our inputs)
[Service]
ExecStart=/bin/sleep infinity
EOF
echo A=1 >/etc/e2e/role.env
cat >/etc/unitsmith/cons.envgate <<'EOF'
[EnvGate]
WaitFor=/etc/e2e/role.env
Output=/etc/e2e/cons.env
Import=A
Consumer=admin.service
SettleTime=100ms
EOF
rc=0
out=$(unitsmith reload --restart-changed --timeout 30s 2>&1) || rc=$?
echo "$out" | sed 's/^/# reload: /'
assert_eq "$rc" 0 "first reload"
systemctl start tpl@1.service tpl@2.service admin.service cons.service
UNITS=(keep.service gone.service kept.service migrated.service tpl@1.service tpl@2.service admin.service)
for u in "${UNITS[@]}"; do
	assert_eq "$(unit_prop "$u" ActiveState)" active "$u before"
done
assert_eq "$(unit_prop cons.service ActiveState)" active "the gate cons.service before"
assert_contains "$(systemctl cat admin.service)" "50-unitsmith-envgate-cons.conf" "admin.service's drop-in from the gate"
keep_inv=$(unit_prop keep.service InvocationID)
admin_pid=$(unit_prop admin.service MainPID)
migrated_inv=$(unit_prop migrated.service InvocationID)
if [ -n "$REAL" ]; then
	for c in e2e-rm-keep e2e-rm-gone e2e-rm-tpl-1 e2e-rm-tpl-2; do
		assert_contains "$(running_containers)" "$c" "podman ps before"
	done
	keep_cid=$(container_id e2e-rm-keep)
fi

step "inputs removed; an administrator's unit file takes over migrated.service"
rm "$Q/gone.container" "$Q/tpl@.container" /etc/unitsmith/cons.envgate "$Q/migrated.container"
cat >/etc/systemd/system/migrated.service <<'EOF'
[Unit]
Description=e2e: the administrator's own migrated.service (replaces the Quadlet file)
[Service]
ExecStart=/bin/sleep infinity
EOF

step "doctor, before any reload, names each running unit whose input is gone"
rc=0
out=$(unitsmith doctor 2>&1) || rc=$?
echo "$out" | sed 's/^/# doctor: /'
assert_eq "$rc" 1 "doctor exit status"
assert_contains "$out" "warning (input-removed): gone.service still runs, but its input $Q/gone.container is gone" "doctor"
assert_contains "$out" "hint: \`unitsmith reload --restart-changed\` stops it" "doctor"
assert_contains "$out" "tpl@1.service still runs, but its input $Q/tpl@.container is gone" "doctor"
assert_contains "$out" "tpl@2.service still runs" "doctor"
assert_contains "$out" "cons.service still runs, but its input /etc/unitsmith/cons.envgate is gone" "doctor"
assert_not_contains "$out" "admin.service still runs" "doctor (a hand-written consumer)"
assert_not_contains "$out" "migrated.service still runs" "doctor (taken over by a unit file)"
assert_not_contains "$out" "keep.service still runs" "doctor"
json=$(unitsmith doctor --json gone.service 2>/dev/null) || true
assert_contains "$json" '"kind":"input-removed"' "doctor --json gone.service"

step "unitsmith reload --restart-changed stops exactly the removed units"
t0=$(now_s)
rc=0
out=$(unitsmith reload --restart-changed --timeout 30s 2>&1) || rc=$?
note "reload took $(seconds_between "$t0" "$(now_s)")s"
echo "$out" | sed 's/^/# reload: /'
assert_eq "$rc" 0 "reload exit status"
row() { # UNIT REGEX: the table row of UNIT matches
	if grep -Eq "^$1 +$2\$" <<<"$out"; then ok "row: $(grep -E "^$1 " <<<"$out")"; else check_failed "no row '$1 $2' in the table"; fi
}
row 'gone\.service' 'not-found +removed +stopped +ok \(inactive/dead\)'
row 'tpl@\.service' 'not-found +removed +stopped \(tpl@1\.service tpl@2\.service\) +ok'
row 'cons\.service' 'not-found +removed +stopped +ok \(inactive/dead\)'
no_row() { # UNIT WHY
	if grep -q "^$1 " <<<"$out"; then check_failed "a row for $1 in the table ($2)"; else ok "no row for $1 ($2)"; fi
}
no_row admin.service "a hand-written unit"
no_row migrated.service "left alone"
no_row keep.service "unchanged: not listed"
assert_contains "$out" "migrated.service: its input is gone, but /etc/systemd/system/migrated.service provides it from the daemon-reload on: left alone" "reload"
assert_contains "$out" "removed (" "reload summary"
for u in gone.service tpl@1.service tpl@2.service cons.service; do
	assert_eq "$(state_of "$u")" not-found/inactive "$u after the reload"
done
assert_eq "$(listed gone.service tpl@1.service tpl@2.service cons.service)" "" "removed units systemd still lists (reset-failed: forgotten)"
assert_eq "$(unit_prop keep.service InvocationID)" "$keep_inv" "keep.service InvocationID (untouched)"
assert_eq "$(unit_prop admin.service MainPID)" "$admin_pid" "admin.service MainPID (not ours: untouched)"
assert_eq "$(unit_prop admin.service ActiveState)" active "admin.service"
assert_eq "$(unit_prop migrated.service InvocationID)" "$migrated_inv" "migrated.service InvocationID (left alone)"
assert_eq "$(unit_prop migrated.service FragmentPath)" /etc/systemd/system/migrated.service "migrated.service FragmentPath"
assert_eq "$(unit_prop kept.service ActiveState)" active "kept.service"
state=$(cat /run/unitsmith/reload.state)
for u in gone.service tpl@.service cons.service; do
	assert_not_contains "$state" " $u" "reload.state"
done
assert_contains "$state" " keep.service" "reload.state"
if [ -n "$REAL" ]; then
	assert_not_contains "$(running_containers)" e2e-rm-gone "podman ps"
	assert_not_contains "$(running_containers)" e2e-rm-tpl- "podman ps"
	assert_not_contains "$(all_containers)" e2e-rm-gone "podman ps -a (removed by the unit's own ExecStop=, not just stopped)"
	assert_not_contains "$(all_containers)" e2e-rm-tpl- "podman ps -a"
	assert_eq "$(container_id e2e-rm-keep)" "$keep_cid" "e2e-rm-keep container (untouched)"
fi
rc=0
out=$(unitsmith doctor 2>&1) || rc=$?
assert_not_contains "$out" "input-removed" "doctor after the reload"
rc=0
out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
assert_eq "$rc" 0 "a second reload"
assert_not_contains "$out" "removed" "a second reload (nothing left to remove)"
assert_contains "$out" " 0 restarted" "a second reload"

step "--keep-removed leaves it running; doctor names it; the next reload stops it"
rm "$Q/kept.container"
rc=0
out=$(unitsmith reload --restart-changed --keep-removed 2>&1) || rc=$?
echo "$out" | sed 's/^/# reload --keep-removed: /'
assert_eq "$rc" 0 "reload --keep-removed exit status"
row 'kept\.service' 'not-found +removed +kept running +ok \(active/running\)'
assert_contains "$out" "1 removed (0 stopped, 1 kept running)" "summary"
assert_eq "$(unit_prop kept.service ActiveState)" active "kept.service (kept)"
[ -z "$REAL" ] || assert_contains "$(running_containers)" e2e-rm-kept "podman ps (kept)"
rc=0
out=$(unitsmith doctor 2>&1) || rc=$?
echo "$out" | grep -A1 input-removed | sed 's/^/# doctor: /' || true
assert_eq "$rc" 1 "doctor exit status"
assert_contains "$out" "kept.service still runs, but no input gives it any more (unitsmith generated it: /run/unitsmith/reload.state lists it)" "doctor"
rc=0
out=$(unitsmith reload --restart-changed --json 2>&1) || rc=$?
assert_eq "$rc" 0 "reload --json exit status"
assert_contains "$out" '"unit":"kept.service","source":null,"change":"removed","action":"stopped"' "reload --json"
assert_contains "$out" '"removed":["kept.service"]' "reload --json"
assert_eq "$(state_of kept.service)" not-found/inactive "kept.service once stopped"
[ -z "$REAL" ] || assert_not_contains "$(all_containers)" e2e-rm-kept "podman ps -a"

step "after a plain daemon-reload: doctor still names it, reload still stops it"
container late
assert_succeeds unitsmith reload --restart-changed
assert_eq "$(unit_prop late.service ActiveState)" active "late.service"
rm "$Q/late.container"
systemctl daemon-reload
assert_eq "$(state_of late.service)" not-found/active "late.service after the plain daemon-reload (systemd keeps it running)"
rc=0
out=$(unitsmith doctor late.service 2>&1) || rc=$?
assert_eq "$rc" 1 "doctor late.service"
assert_contains "$out" "late.service still runs, but no input gives it any more" "doctor late.service"
t0=$(now_s)
rc=0
out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
took=$(seconds_between "$t0" "$(now_s)")
echo "$out" | sed 's/^/# reload: /'
note "stopped in ${took}s without its unit file (no ExecStop=: systemd only signals its processes)"
assert_eq "$rc" 0 "reload exit status"
row 'late\.service' 'not-found +removed +stopped +ok \(inactive/dead\)'
assert_eq "$(listed late.service)" "" "late.service forgotten by systemd"
[ -z "$REAL" ] || assert_not_contains "$(running_containers)" e2e-rm-late "podman ps"
if [ -n "$REAL" ]; then
	note "podman ps -a after a stop without ExecStopPost=: $(all_containers | grep e2e-rm-late || echo none)"
fi

step "the others ran on untouched"
assert_eq "$(unit_prop keep.service InvocationID)" "$keep_inv" "keep.service InvocationID"
assert_eq "$(unit_prop admin.service MainPID)" "$admin_pid" "admin.service MainPID"
assert_eq "$(unit_prop migrated.service ActiveState)" active "migrated.service"
[ -z "$REAL" ] || assert_eq "$(container_id e2e-rm-keep)" "$keep_cid" "e2e-rm-keep container"
systemctl --failed --no-legend --plain | sed 's/^/# failed: /'
assert_eq "$(systemctl --failed --no-legend --plain | grep -c . || true)" 0 "failed units"
