#!/bin/bash
# An env gate's output on a full file system (issue 12, item 4): a 1 MiB tmpfs mounted over the
# output's directory, filled up, then a new role file arrives. Required: the wait unit says
# clearly what failed (the output, "No space left on device", that the old file is kept, which
# file system to free) and retries with backoff; the output stays the old file byte for byte,
# no temporary file is left on the full file system, the consumer keeps running on the old
# env; once space is freed, the next retry writes the new env and restarts the consumer with
# it. Nothing fails.
# e2e-timeout: 120
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

ROLE=/etc/e2e/role.env
DIR=/etc/e2e-full
OUT=$DIR/app.env
WAIT=fullgate-wait.service
CONSUMER=fullapp.service

mkdir -p /etc/e2e /etc/unitsmith "$DIR"
mount -t tmpfs -o size=1M,mode=0755 e2e-full "$DIR"
note "$(findmnt -n -o TARGET,FSTYPE,SIZE,OPTIONS "$DIR")"
cat >/etc/systemd/system/$CONSUMER <<EOF
[Unit]
Description=e2e: reads the env gate's output
[Service]
EnvironmentFile=$OUT
ExecStart=/bin/sh -c 'echo "consumer started with A=\$A"; exec sleep infinity'
EOF
cat >/etc/unitsmith/fullgate.envgate <<EOF
[EnvGate]
WaitFor=$ROLE
Output=$OUT
Import=A
Consumer=$CONSUMER
SettleTime=100ms
EOF
consumer_a() { tr '\0' '\n' <"/proc/$(unit_prop "$CONSUMER" MainPID)/environ" | sed -n 's/^A=//p'; }
temps() { compgen -G "$DIR/.app.env.unitsmith-*.tmp" || true; }
attempts() { journalctl -b -q --no-pager -u "$WAIT" -o cat | grep -c "No space left on device" || true; }

step "the gate opens on the small file system"
echo A=one >"$ROLE"
assert_succeeds unitsmith reload --restart-changed
wait_for --timeout 20 grep -qx A=one "$OUT" || fail "the first output never came"
wait_for --timeout 10 sh -c "systemctl -q is-active $CONSUMER" || fail "$CONSUMER did not start"
assert_eq "$(consumer_a)" one "A in $CONSUMER"
cp "$OUT" /run/e2e-old.env
consumer_pid=$(unit_prop "$CONSUMER" MainPID)

step "the file system full, a new role file: a clear error, the old env kept, retried"
dd if=/dev/zero of="$DIR/filler" bs=4k 2>/dev/null || true
note "filled: $(df -k --output=avail "$DIR" | tail -n 1 | tr -d ' ') KiB free"
echo A=two >"$ROLE.tmp" && mv "$ROLE.tmp" "$ROLE"
systemctl start "$WAIT"
wait_for --timeout 20 sh -c "[ \$(journalctl -b -q --no-pager -u $WAIT -o cat | grep -c 'No space left on device') -ge 2 ]" ||
	check_failed "$WAIT did not try twice"
log=$(journalctl -b -q --no-pager -u "$WAIT" -o cat)
echo "$log" | grep -m 2 'No space' | sed 's/^/# journal: /'
assert_contains "$log" "attempt 1: cannot write $OUT: " "$WAIT journal"
assert_contains "$log" "No space left on device" "$WAIT journal"
assert_contains "$log" "it keeps its old content (the file system of $DIR is full: free space there); trying again (backoff)" "$WAIT journal"
assert_contains "$log" "attempt 2: " "$WAIT journal"
assert_eq "$(unit_prop "$WAIT" ActiveState)" active "$WAIT (still retrying)"
if cmp -s "$OUT" /run/e2e-old.env; then ok "$OUT is the old file, byte for byte"; else check_failed "$OUT changed: $(head -c 200 "$OUT")"; fi
assert_eq "$(temps)" "" "temporary files on the full file system"
assert_eq "$(unit_prop "$CONSUMER" MainPID)" "$consumer_pid" "$CONSUMER (not restarted)"
assert_eq "$(consumer_a)" one "A in $CONSUMER"

step "space freed: the next retry writes it and restarts the consumer"
tried=$(attempts)
rm "$DIR/filler"
t0=$(now_s)
wait_for --timeout 30 grep -qx A=two "$OUT" || check_failed "the new env never came"
note "written $(seconds_between "$t0" "$(now_s)")s after the space was freed ($tried failed attempts before)"
wait_for --timeout 10 sh -c "[ \"\$(systemctl show -P ActiveState $WAIT)\" != active ]" || true
assert_eq "$(unit_prop "$WAIT" ActiveState)/$(unit_prop "$WAIT" Result)" inactive/success "$WAIT"
assert_contains "$(journalctl -b -q --no-pager -u "$WAIT" -o cat)" "at attempt $((tried + 1))" "$WAIT journal"
wait_for --timeout 10 sh -c "[ \"\$(systemctl show -P MainPID $CONSUMER)\" != $consumer_pid ]" || true
assert_eq "$(consumer_a)" two "A in $CONSUMER (restarted)"
assert_eq "$(temps)" "" "temporary files left"
assert_eq "$(systemctl --failed --no-legend --plain | grep -c . || true)" 0 "failed units"
umount "$DIR"
