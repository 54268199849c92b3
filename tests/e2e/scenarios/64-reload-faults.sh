#!/bin/bash
# Faults around `unitsmith reload` on a real systemd (issue 12, item 4). Required:
#   - its state directory read-only (a read-only bind mount over /run/unitsmith): a clear
#     error naming the directory and the cause, nothing restarted; once writable again the
#     pending change is applied (not lost);
#   - its state file impossible to replace (a file bind-mounted over it): the units are
#     restarted, the error names the file, exit 1; the next reload restarts them again (the
#     state never claims what was not recorded);
#   - systemctl hanging (UNITSMITH_SYSTEMCTL, a wrapper that never answers one verb: the
#     daemon-reload, reload's look at the units with list-units, and with --json its full look
#     with show): reload ends after --timeout with the call named, exit 1, nothing restarted;
#   - two reloads started at once: they take turns, both exit 0, each changed unit is
#     restarted exactly once (the podman TEST STAND-IN's log, guest/podman-standin, NOT
#     podman), the next reload has nothing to do.
# e2e-timeout: 180
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

Q=/etc/containers/systemd
LOG=/run/podman-standin.log
N=10
install_podman_standin
mkdir -p "$Q"
touch "$LOG"

write() { # NAME VALUE
	printf '[Container]\nImage=docker.io/library/busybox:latest\nExec=sleep infinity\nEnvironment=V=%s\n' "$2" >"$Q/$1.container.tmp"
	mv "$Q/$1.container.tmp" "$Q/$1.container"
}
inv() { unit_prop "$1.service" InvocationID; }
log_lines() { echo $(($(wc -l <"$LOG") + 1)); }
starts_since() { # FIRST_LINE -> "COUNT NAME" per container started since
	tail -n +"$1" "$LOG" | awk '$2 == "run" {
		for (i = 3; i < NF; i++) if ($i == "--name") { n = $(i + 1); sub(/^systemd-/, "", n); print n }
	}' | sort | uniq -c | awk '{ print $1, $2 }'
}

for i in $(seq 1 "$N"); do write "f$i" 0; done
assert_succeeds unitsmith reload --restart-changed

step "the state directory read-only: a clear error, nothing done; the change applied later"
write f1 ro
before=$(inv f1)
mount --bind /run/unitsmith /run/unitsmith
mount -o remount,bind,ro /run/unitsmith
t0=$(now_s)
rc=0
out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
note "ended after $(seconds_between "$t0" "$(now_s)")s: $out"
assert_eq "$rc" 1 "reload exit status"
assert_contains "$out" "cannot take the reload lock: /run/unitsmith/reload.lock: Read-only file system" "reload"
assert_contains "$out" "hint: reload keeps its lock and state in /run/unitsmith, which must be a directory it can write" "reload"
assert_contains "$out" "nothing done" "reload"
assert_eq "$(inv f1)" "$before" "f1.service InvocationID (nothing restarted)"
umount /run/unitsmith
rc=0
out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
assert_eq "$rc" 0 "reload once writable"
[ "$(inv f1)" != "$before" ] && ok "f1.service restarted: the change was not lost" || check_failed "f1.service not restarted once the directory was writable"

step "the state file cannot be replaced: the restart happens, the error names the file, the next reload restarts again"
write f2 busy
before=$(inv f2)
cp /run/unitsmith/reload.state /run/e2e-state-copy
mount --bind -o ro /run/e2e-state-copy /run/unitsmith/reload.state
rc=0
out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
echo "$out" | sed 's/^/# reload: /'
assert_eq "$rc" 1 "reload exit status"
assert_contains "$out" "/run/unitsmith/reload.state: cannot write the reload state: " "reload"
assert_contains "$out" "Device or resource busy" "reload"
assert_contains "$out" "until the state can be written, the next reload restarts them again" "reload"
after=$(inv f2)
[ "$after" != "$before" ] && ok "f2.service restarted" || check_failed "f2.service not restarted"
umount /run/unitsmith/reload.state
rc=0
out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
assert_eq "$rc" 0 "the next reload"
[ "$(inv f2)" != "$after" ] && ok "f2.service restarted again (the state had not recorded it)" || check_failed "f2.service not restarted again"
out=$(unitsmith reload --restart-changed 2>&1)
assert_contains "$out" " 0 restarted" "a third reload"

step "systemctl hangs: reload ends at --timeout, names the call, restarts nothing"
cat >/usr/local/bin/e2e-hanging-systemctl <<'EOF'
#!/bin/bash
# TEST WRAPPER: systemctl that never answers $HANG, the real one otherwise.
for a in "$@"; do case $a in -*) ;; *) verb=$a; break ;; esac; done
[ "$verb" = "$HANG" ] && exec -a e2e-hung-systemctl sleep infinity
exec systemctl "$@"
EOF
chmod +x /usr/local/bin/e2e-hanging-systemctl
write f3 hang
before=$(inv f3)
for hang in daemon-reload list-units show:--json; do
	verb=${hang%%:*} json=
	[ "$verb" = "$hang" ] || json=${hang#*:}
	t0=$(now_s)
	rc=0
	# shellcheck disable=SC2086 # $json: no word, or one
	out=$(HANG=$verb UNITSMITH_SYSTEMCTL=/usr/local/bin/e2e-hanging-systemctl unitsmith reload --restart-changed --timeout 2s $json 2>&1) || rc=$?
	took=$(seconds_between "$t0" "$(now_s)")
	echo "$out" | head -n 4 | sed "s/^/# $verb hangs: /"
	note "systemctl $verb hanging: reload --timeout 2s ended after ${took}s, exit $rc"
	assert_eq "$rc" 1 "reload exit status ($verb hangs)"
	assert_contains "$out" "systemctl $verb" "reload output ($verb hangs)"
	assert_contains "$out" "no answer within 2s (killed); is systemd busy or hung?" "reload output ($verb hangs)"
	if awk -v t="$took" 'BEGIN { exit !(t >= 2 && t < 4) }'; then ok "ended after ${took}s (bound 2s)"; else check_failed "ended after ${took}s, not about 2s"; fi
	assert_eq "$(inv f3)" "$before" "f3.service (nothing restarted)"
	assert_eq "$(pgrep -c -f '^e2e-hung-systemctl' || true)" 0 "hanging systemctl calls left running"
done
out=$(unitsmith reload --restart-changed 2>&1) || true
[ "$(inv f3)" != "$before" ] && ok "f3.service restarted by the next reload" || check_failed "f3.service never restarted"

step "two reloads at once: they take turns, each changed unit restarted once"
for i in $(seq 1 "$N"); do write "f$i" twice; done
first=$(log_lines)
unitsmith reload --restart-changed >/run/e2e-r1.txt 2>&1 &
p1=$!
unitsmith reload --restart-changed >/run/e2e-r2.txt 2>&1 &
p2=$!
rc1=0 rc2=0
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
sed 's/^/# reload 1: /' /run/e2e-r1.txt
sed 's/^/# reload 2: /' /run/e2e-r2.txt
assert_eq "$rc1/$rc2" 0/0 "exit statuses"
assert_contains "$(cat /run/e2e-r1.txt /run/e2e-r2.txt)" "waiting for another unitsmith reload to finish" "one of them waited"
expected=$(for i in $(seq 1 "$N"); do echo "1 f$i"; done | sort)
assert_eq "$(starts_since "$first" | sort)" "$expected" "containers started since (each once)"
assert_eq "$(grep -ho '[0-9]\+ restarted' /run/e2e-r1.txt /run/e2e-r2.txt | sort | tr '\n' ' ')" "0 restarted $N restarted " "restarts reported (one did all, the other had nothing left)"
out=$(unitsmith reload --restart-changed 2>&1)
assert_contains "$out" " 0 restarted" "a third reload"
assert_eq "$({ systemctl is-active $(for i in $(seq 1 "$N"); do echo "f$i.service"; done) || true; } | grep -cx active)" "$N" "units active"
