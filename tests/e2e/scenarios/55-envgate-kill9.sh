#!/bin/bash
# kill -9 of an env gate's wait unit in the middle of writing its output (issue 12, item 4).
# The gate imports 500 keys of 16 KiB (an 8 MiB env file, so that a write takes long enough to
# be hit); each round the role file changes, the wait unit is started, and as soon as its write
# is seen in progress (its temporary file appears, or the output changes) it gets SIGKILL,
# at a varying point. Required, every round: the output is byte for byte the old file or the
# new one, never torn; over the rounds, enough kills land before the rename (the temporary
# file is still there afterwards) to show the writes were hit. Then one run to its end: the
# new output, and the killed writes' temporary files (they hold the secrets) removed.
# e2e-timeout: 240
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

ROUNDS=16
KEYS=500
ROLE=/etc/e2e/big-role.env
OUT_DIR=/etc/e2e-out
OUT=$OUT_DIR/big.env
WAIT=big-wait.service
mkdir -p /etc/e2e "$OUT_DIR" /etc/unitsmith
chmod 0755 "$OUT_DIR"

value=$(head -c 16384 /dev/zero | tr '\0' x)
write_role() { # VERSION
	{
		echo "V=$1"
		for i in $(seq 1 "$KEYS"); do echo "K$i=$value"; done
	} >"$ROLE.tmp"
	mv "$ROLE.tmp" "$ROLE"
}
keys="V$(printf ' K%s' $(seq 1 "$KEYS"))"
cat >/etc/unitsmith/big.envgate <<EOF
[EnvGate]
WaitFor=$ROLE
Output=$OUT
Import=$keys
SettleTime=100ms
Timeout=5min

[Install]
WantedBy=multi-user.target
EOF

temps() { compgen -G "$OUT_DIR/.big.env.unitsmith-*.tmp" || true; }
sig() { stat -c '%s %i %Y.%y' "$OUT" 2>/dev/null || echo none; }

step "the gate writes the 8 MiB output"
write_role v00
assert_succeeds unitsmith reload --restart-changed
wait_for --timeout 30 grep -qx V=v00 "$OUT" || fail "the first output never came"
wait_for --timeout 10 sh -c "[ \"\$(systemctl show -P ActiveState $WAIT)\" != active ]" || true
note "output: $(stat -c %s "$OUT") bytes"
t0=$(now_s)
write_role v00x
systemctl start "$WAIT"
wait_for --timeout 30 grep -qx V=v00x "$OUT"
note "one uninterrupted wait-unit run (settle 100ms, build, write, fsync): $(seconds_between "$t0" "$(now_s)")s"
systemctl reset-failed "$WAIT" 2>/dev/null || true

step "$ROUNDS rounds: kill -9 while it writes"
torn=0 midwrite=0 old_kept=0 new_seen=0
prev=v00x
for r in $(seq -w 1 "$ROUNDS"); do
	ver=v$r
	cp "$OUT" /run/e2e-old.env
	sed "s/^V=$prev\$/V=$ver/" /run/e2e-old.env >/run/e2e-new.env
	write_role "$ver"
	before=$(sig)
	had=$(temps) # left by the kills before: the writer removes them before it writes
	systemctl start "$WAIT"
	pid=$(unit_prop "$WAIT" MainPID)
	[ "$pid" -gt 0 ] || fail "round $r: $WAIT has no main process"
	# Spin until the write is seen: a temporary file of its own, or the output changed.
	seen=
	for ((i = 0; i < 20000; i++)); do
		now=$(temps)
		if { [ -n "$now" ] && [ "$now" != "$had" ]; } || [ "$(sig)" != "$before" ]; then
			seen=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
	done
	# Vary the point of the kill: at once in every other round (the temporary file was just
	# seen: the kill lands mid-write however fast the write is), a little later in the others
	# (during the write, the fsync or after the rename). Chosen at random for every round, as
	# before, a run drew "at once" once in 16 and too few kills hit the write.
	if ((10#$r % 2)); then
		spin=0
	else
		spin=$(((RANDOM % 3 + 1) * 3000))
	fi
	for ((i = 0; i < spin; i++)); do :; done
	kill -9 "$pid" 2>/dev/null || true
	wait_for --timeout 10 sh -c "[ \"\$(systemctl show -P ActiveState $WAIT)\" != active ]" || fail "round $r: $WAIT still active after SIGKILL"
	# A temporary file of this writer's still there: the kill came before its rename.
	left=$(comm -13 <(echo "$had") <(temps))
	if cmp -s "$OUT" /run/e2e-old.env; then
		outcome=old
		old_kept=$((old_kept + 1))
	elif cmp -s "$OUT" /run/e2e-new.env; then
		outcome=new
		new_seen=$((new_seen + 1))
	else
		outcome="TORN ($(stat -c %s "$OUT") bytes, first line $(head -c 60 "$OUT" | head -n 1))"
		torn=$((torn + 1))
	fi
	[ -n "$left" ] && midwrite=$((midwrite + 1))
	note "round $r: write seen: ${seen:-no}, kill after ${spin} spins, output: $outcome, temporary file left: ${left:+yes}"
	if [ "$outcome" = new ]; then prev=$ver; fi
	systemctl reset-failed "$WAIT" 2>/dev/null || true
done
note "$ROUNDS kills: $old_kept left the old output, $new_seen the new one, $torn torn; $midwrite landed before the rename"
assert_eq "$torn" 0 "torn outputs"
if [ "$midwrite" -ge 4 ]; then
	ok "$midwrite kills landed in the middle of the write (temporary file left behind)"
else
	check_failed "only $midwrite kills landed before the rename: the test did not hit the writes"
fi
note "temporary files of killed writes still there now: $(temps | wc -l) (each later write removes those before it)"

step "one run to its end: the new output, the killed writes' temporary files removed"
write_role v99
systemctl start "$WAIT"
wait_for --timeout 30 grep -qx V=v99 "$OUT" || check_failed "the output never became v99"
wait_for --timeout 10 sh -c "[ \"\$(systemctl show -P ActiveState $WAIT)\" != active ]" || true
assert_contains "$(head -n 1 "$OUT")" "# unitsmith env gate real:" "first line of the output"
assert_eq "$(grep -c '^K[0-9]*=' "$OUT")" "$KEYS" "keys in the output"
assert_eq "$(temps)" "" "temporary files left"
removed=$(journalctl -b -q --no-pager -u "$WAIT" -o cat | grep -c "the temporary file of a write that was killed before it finished" || true)
note "$WAIT said it removed a killed write's temporary file $removed times"
assert_eq "$removed" "$midwrite" "temporary files of killed writes removed by the next write"
assert_eq "$(stat -c '%a %U' "$OUT")" "600 root" "output mode and owner"
