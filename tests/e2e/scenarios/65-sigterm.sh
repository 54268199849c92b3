#!/bin/bash
# SIGTERM at every wait of every helper, on a real systemd (issue 12, item 4): each must end
# within 1 s, and a helper run by a unit must end as a clean stop (the unit inactive, not
# failed). Measured: `systemctl stop` of the unit (systemd sends SIGTERM and waits), or, for
# reload run by hand, kill -TERM to its end.
#   envgate wait: waiting for its file; in its Exec=
#   lock --wait: waiting for the holder
#   reconcile: in the start of a unit that takes 30 s to start
#   reload: waiting for a unit to be loaded; waiting for another reload; restarting a unit
#     that takes 30 s to start
# e2e-timeout: 180
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

LIMIT=1.0
mkdir -p /etc/unitsmith /etc/e2e
slowest=0

# The measured time must be within the limit.
within() { # SECONDS WHAT
	note "SIGTERM $2: ended after ${1}s"
	if awk -v t="$1" -v l="$LIMIT" 'BEGIN { exit !(t <= l) }'; then
		ok "$2 ended within ${LIMIT}s (${1}s)"
	else
		check_failed "$2 took ${1}s after SIGTERM (limit ${LIMIT}s)"
	fi
	slowest=$(awk -v a="$slowest" -v b="$1" 'BEGIN { print (b > a ? b : a) }')
}

# Stop UNIT and time it; it must end clean (inactive, Result=success).
stop_unit() { # UNIT WHAT
	local t0 took
	t0=$(now_s)
	systemctl stop "$1"
	took=$(seconds_between "$t0" "$(now_s)")
	within "$took" "$2 ($1)"
	assert_eq "$(unit_prop "$1" ActiveState)/$(unit_prop "$1" Result)" inactive/success "$1 after the stop (a clean stop)"
}

# kill -TERM PID and time it to its end; it must die of SIGTERM.
term_pid() { # PID WHAT
	local t0 took rc=0
	t0=$(now_s)
	kill -TERM "$1"
	wait "$1" || rc=$?
	took=$(seconds_between "$t0" "$(now_s)")
	within "$took" "$2"
	assert_eq "$rc" 143 "$2: exit status (died of SIGTERM)"
}

# Wait until the unit's main process has logged NEEDLE, then a little longer (inside the wait).
logged() { # UNIT NEEDLE
	wait_for --timeout 20 sh -c "journalctl -b -q --no-pager -u '$1' -o cat | grep -qF '$2'" ||
		fail "$1 never logged '$2'"
	sleep 0.3
}

step "envgate wait, waiting for its file"
cat >/etc/systemd/system/e2e-consumer.service <<'EOF'
[Service]
ExecStart=/bin/sleep infinity
EOF
cat >/etc/unitsmith/never.envgate <<'EOF'
[EnvGate]
WaitFor=/etc/e2e/never.env
Output=/etc/e2e/never-out.env
Import=A
Consumer=e2e-consumer.service
EOF
printf '#!/bin/sh\nsleep 30\n' >/usr/local/bin/e2e-slow-fetch
chmod +x /usr/local/bin/e2e-slow-fetch
echo A=1 >/etc/e2e/role.env
cat >/etc/unitsmith/slowexec.envgate <<'EOF'
[EnvGate]
WaitFor=/etc/e2e/role.env
Output=/etc/e2e/slowexec-out.env
Import=A
Exec=/usr/local/bin/e2e-slow-fetch
ExecTimeout=1min
SettleTime=100ms
Consumer=e2e-consumer.service
EOF
systemctl daemon-reload
systemctl start --no-block never-wait.service
logged never-wait.service "waiting up to"
stop_unit never-wait.service "envgate wait, waiting for its file"

step "envgate wait, in its Exec="
systemctl start --no-block slowexec-wait.service
wait_for --timeout 20 pgrep -f e2e-slow-fetch || fail "Exec= never ran"
sleep 0.3
stop_unit slowexec-wait.service "envgate wait, in Exec="
assert_eq "$(pgrep -fc e2e-slow-fetch || true)" 0 "Exec= processes left"

step "lock --wait, waiting for the holder"
for n in 1 2; do
	cat >/etc/systemd/system/e2e-single$n.service <<'EOF'
[Service]
ExecStart=/usr/bin/unitsmith lock --name e2e-single --wait 60s -- /bin/sleep infinity
EOF
done
systemctl daemon-reload
systemctl start e2e-single1.service
# The holder has the lock once lock has exec'ed its command.
wait_for --timeout 10 sh -c "[ \"\$(readlink /proc/\$(systemctl show -P MainPID e2e-single1.service)/exe)\" = /usr/bin/sleep ]"
systemctl start e2e-single2.service
logged e2e-single2.service "waiting up to"
stop_unit e2e-single2.service "lock --wait"
systemctl stop e2e-single1.service

step "reconcile, in the start of a unit that takes 30 s to start"
cat >/etc/systemd/system/e2e-slowstart.service <<'EOF'
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStartPre=/bin/sh -c 'test -e /run/e2e-slowstart-crashed || { touch /run/e2e-slowstart-crashed; exit 1; }'
ExecStartPre=/bin/sleep 30
ExecStart=/bin/true
EOF
echo e2e-slowstart.service >/etc/unitsmith/reconcile.conf
systemctl daemon-reload
systemctl start e2e-slowstart.service || true # fails once: reconcile repairs failed units
assert_eq "$(unit_prop e2e-slowstart.service ActiveState)" failed "e2e-slowstart.service before"
systemctl start --no-block unitsmith-reconcile.service
wait_for --timeout 20 sh -c "[ \"\$(systemctl show -P ActiveState e2e-slowstart.service)\" = activating ]" ||
	fail "reconcile never started e2e-slowstart.service"
sleep 0.3
stop_unit unitsmith-reconcile.service "reconcile, starting a unit"
systemctl stop e2e-slowstart.service
systemctl reset-failed e2e-slowstart.service || true # stopped in its ExecStartPre=: failed, by design

step "reload, waiting for a unit to be loaded"
unitsmith reload --timeout 60s never-there.service >/run/e2e-reload.txt 2>&1 &
pid=$!
sleep 1.5 # well inside its 60 s wait
term_pid "$pid" "reload, waiting for never-there.service to be loaded"
assert_contains "$(cat /run/e2e-reload.txt)" "stopped (SIGTERM) while waiting for the units to be loaded; nothing restarted" "reload"

step "reload, waiting for another reload"
# The other reload: a process holding reload.lock (the holder itself, so killing it frees it).
(
	exec 9</run/unitsmith/reload.lock
	flock 9
	exec sleep 60
) &
holder=$!
sleep 0.3
unitsmith reload >/run/e2e-reload.txt 2>&1 &
pid=$!
wait_for --timeout 10 grep -q "waiting for another unitsmith reload" /run/e2e-reload.txt
sleep 0.3
term_pid "$pid" "reload, waiting for another reload"
kill "$holder"
wait "$holder" 2>/dev/null || true

step "reload, restarting a unit that takes 30 s to start"
rm -f /run/e2e-slowstart-crashed
touch /run/e2e-slowstart-crashed
unitsmith reload --restart e2e-slowstart.service >/run/e2e-reload.txt 2>&1 &
pid=$!
wait_for --timeout 20 sh -c "[ \"\$(systemctl show -P ActiveState e2e-slowstart.service)\" = activating ]"
sleep 0.3
term_pid "$pid" "reload, restarting e2e-slowstart.service"
assert_contains "$(cat /run/e2e-reload.txt)" "stopped (SIGTERM) while restarting" "reload"
systemctl stop e2e-slowstart.service
systemctl reset-failed e2e-slowstart.service || true # stopped in its ExecStartPre=: failed, by design

note "slowest: ${slowest}s (limit ${LIMIT}s)"
assert_eq "$(systemctl --failed --no-legend --plain | grep -c . || true)" 0 "failed units"
