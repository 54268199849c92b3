#!/bin/bash
# e2e-boots: 2
# e2e-guests: bookworm testing
# (These first: run.sh reads them from the first 30 lines.)
# Root's helpers are not steered by files an unprivileged user controls (issue 15), on a real
# systemd, the attacker a real user (nobody, through setpriv):
#   - lock: nobody makes the old lock directory /run/lock/unitsmith first (Debian's /run/lock
#     is 1777) with victim.lock -> /etc/e2e-created. Root's `unitsmith lock --name victim`
#     creates nothing through it (its locks are in /run/unitsmith/lock, root's, 0700), and
#     nobody cannot open root's lock file (0600), so cannot hold it.
#   - env gate output: Output= in the consumer's StateDirectory= (owned by nobody, the
#     consumer's User=); nobody plants links to /etc/e2e-victim at every temporary name the
#     old helper could have used (.NAME.unitsmith-PID.tmp for every PID up to 32768). The
#     gate writes the stub, then the real env when nobody writes the role file: the victim is
#     untouched, the output a regular file.
#   - env gate Exec=: that role file carries LD_PRELOAD and BASH_ENV; Exec= (root) sees neither.
#   - a gate whose Output= directory belongs to a user who is not its consumer's is refused,
#     the journal naming the directory and its owner.
#   - the generator (issue 20): /etc/unitsmith/team, delegated to nobody, where nobody links
#     to a Quadlet file root owns (and, where the guest has python3, to /proc/PID/cmdline of
#     a non-dumpable process of theirs, which the kernel shows as root's with nobody's
#     bytes: a unit with ExecStartPre=): at daemon-reload and at the next boot each is a
#     failure stub naming the directory and its owner; no unit runs nobody's command.
# Issue 20 (text into units, env gates, walks):
#   - a dangling link e2e-cron.container whose target holds `\r[Service]\rExecStartPre=...`
#     (setup.sh, before boot), beside an enabled vendor e2e-cron.service: the failure stub
#     outranks it and runs at boot; the injected ExecStartPre= does not run.
#   - Exec= sees neither OPENSSL_CONF nor https_proxy from the role file nobody writes.
#   - a gate shared by nobody's consumer and root's: its Output= in nobody's directory is not
#     written, and a "real" output nobody plants there holds root's consumer.
#   - nobody's e2e-vendor.container (with [Install]) in that delegated directory, beside an
#     enabled vendor e2e-vendor.service: its stub goes to /run/systemd/generator.late, and
#     the vendor unit is what systemd loads and starts, after daemon-reload and at boot.
#   - doctor as root over nobody's /etc/containers/systemd/users/65534 with 40 links to `.`
#     ends, and says which links it did not follow.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

VICTIM=/etc/e2e-victim
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }

# The generator's refusals (boot 1 after a daemon-reload, boot 2 at boot): each planted
# input is a failure stub naming the delegated directory and its owner.
PWNED=/etc/e2e-team-pwned # (not a prefix of the e2e-cron link target, which its stub names)
TEAM=/etc/unitsmith/team
check_generator_refusals() { # UNIT...
	local u path
	for u in "$@"; do
		path=$(generated_unit_path "$u") || {
			check_failed "$u: not generated"
			continue
		}
		assert_file_matches "$path" '^\[X-Unitsmith\]' "$u is a failure stub"
		assert_file_matches "$path" "^Error=.*not used: $TEAM is owned by uid 65534" "$u names $TEAM and its owner"
		assert_fails systemctl start "$u"
		systemctl reset-failed "$u" 2>/dev/null || true
	done
	if grep -rl "$PWNED" /run/systemd/generator* 2>/dev/null; then
		check_failed "a generated unit runs nobody's command"
	else
		ok "no generated unit mentions $PWNED"
	fi
	assert_fails test -e "$PWNED"
}
LATE=/run/systemd/generator.late
check_vendor_unit_kept() {
	assert_file_matches "$LATE/e2e-vendor.service" "^Error=.*not used: $TEAM is owned by uid 65534" "nobody's e2e-vendor.container: its stub in $LATE"
	# (/lib/systemd/system on bookworm, where /lib is a link to /usr/lib and searched first.)
	local fragment
	fragment=$(unit_prop e2e-vendor.service FragmentPath)
	case "$fragment" in
	/usr/lib/systemd/system/e2e-vendor.service | /lib/systemd/system/e2e-vendor.service)
		ok "e2e-vendor.service FragmentPath: $fragment (the vendor's)" ;;
	*) check_failed "e2e-vendor.service FragmentPath: $fragment, not the vendor's" ;;
	esac
	assert_eq "$(unit_prop e2e-vendor.service ActiveState)" active "e2e-vendor.service ActiveState"
	if find /run/systemd/generator "$LATE" -name 'e2e-vendor.service' -type l | grep .; then
		check_failed "a link to nobody's e2e-vendor.service stub"
	else
		ok "no link to nobody's e2e-vendor.service stub"
	fi
}

if [ "${E2E_BOOT:-1}" = 2 ]; then
	step "generator at boot: what nobody planted in $TEAM is refused"
	units=(linked.service)
	[ -L "$TEAM/evil.container" ] && units+=(evil.service)
	check_generator_refusals "${units[@]}"
	note "$(grep -m1 '^Error=' "$(generated_unit_path linked.service)")"
	check_vendor_unit_kept
	exit 0
fi
victim_untouched() {
	assert_eq "$(cat "$VICTIM")" "precious" "$VICTIM content"
	assert_eq "$(stat -c '%U %a' "$VICTIM")" "root 644" "$VICTIM owner and mode"
}
echo precious >"$VICTIM"
chmod 0644 "$VICTIM"

step "lock: a lock directory nobody made first in /run/lock is not used"
chmod 1777 /run/lock # as on a Debian host
as_nobody mkdir -p /run/lock/unitsmith
as_nobody ln -s /etc/e2e-created /run/lock/unitsmith/victim.lock
assert_succeeds unitsmith lock --name victim -- true
assert_fails test -e /etc/e2e-created
assert_eq "$(stat -c '%U %a' /run/unitsmith/lock)" "root 700" "/run/unitsmith/lock owner and mode"
assert_eq "$(stat -c '%U %a' /run/unitsmith/lock/victim.lock)" "root 600" "root's lock file owner and mode"
assert_fails as_nobody flock -n /run/unitsmith/lock/victim.lock true
note "nobody: $(as_nobody flock -n /run/unitsmith/lock/victim.lock true 2>&1 || true)"

step "env gate: links planted at the temporary names in the consumer's StateDirectory"
install -d -o nobody -g nogroup -m 0755 /var/lib/e2e-svc
as_nobody perl -e 'symlink($ARGV[0], "/var/lib/e2e-svc/.svc.env.unitsmith-$_.tmp") for 1 .. 32768' "$VICTIM"
note "$(find /var/lib/e2e-svc -maxdepth 1 -type l | wc -l) links planted by nobody"
cat >/etc/systemd/system/e2e-svc.service <<'UNIT'
[Unit]
Description=e2e consumer running as nobody, its env in its StateDirectory
[Service]
Type=exec
User=nobody
StateDirectory=e2e-svc
EnvironmentFile=/var/lib/e2e-svc/svc.env
ExecStart=/bin/sh -c 'echo "e2e-svc: role $$ROLE"; exec sleep infinity'
UNIT
mkdir -p /etc/unitsmith
cat >/etc/unitsmith/svc-creds.envgate <<'DECL'
[EnvGate]
WaitFor=/var/lib/e2e-svc/role.env
Output=/var/lib/e2e-svc/svc.env
Import=ROLE OPENSSL_CONF https_proxy
Exec=/bin/sh -c 'echo SEEN_PRELOAD=${LD_PRELOAD-unset}; echo SEEN_BASH_ENV=${BASH_ENV-unset}; echo SEEN_OPENSSL_CONF=${OPENSSL_CONF-unset}; echo SEEN_PROXY=${https_proxy-unset}'
Consumer=e2e-svc.service
SettleTime=200ms
PollInterval=500ms
Timeout=2min
DECL
systemctl daemon-reload
systemctl start svc-creds.service
victim_untouched
assert_eq "$(stat -c '%F %U' /var/lib/e2e-svc/svc.env)" "regular file root" "the output"
assert_file_matches /var/lib/e2e-svc/svc.env '^# unitsmith env gate stub' "the output (stub)"

step "env gate: the role file nobody writes, with LD_PRELOAD and BASH_ENV in it"
as_nobody sh -c 'printf "ROLE=worker\nLD_PRELOAD=/var/lib/e2e-svc/evil.so\nBASH_ENV=/var/lib/e2e-svc/evil.sh\nOPENSSL_CONF=/var/lib/e2e-svc/evil.cnf\nhttps_proxy=http://127.0.0.1:9\n" >/var/lib/e2e-svc/role.env.tmp && mv /var/lib/e2e-svc/role.env.tmp /var/lib/e2e-svc/role.env'
wait_for --timeout 30 grep -q '^ROLE=worker' /var/lib/e2e-svc/svc.env ||
	check_failed "the real env was not written: $(journalctl -b -u svc-creds-wait.service -o cat | tail -5)"
assert_file_matches /var/lib/e2e-svc/svc.env '^SEEN_PRELOAD=unset$' "Exec= did not see LD_PRELOAD"
assert_file_matches /var/lib/e2e-svc/svc.env '^SEEN_BASH_ENV=unset$' "Exec= did not see BASH_ENV"
assert_file_matches /var/lib/e2e-svc/svc.env '^SEEN_OPENSSL_CONF=unset$' "Exec= did not see OPENSSL_CONF"
assert_file_matches /var/lib/e2e-svc/svc.env '^SEEN_PROXY=unset$' "Exec= did not see https_proxy"
assert_file_matches /var/lib/e2e-svc/svc.env '^OPENSSL_CONF=' "the consumer still gets OPENSSL_CONF"
victim_untouched
wait_for --timeout 10 sh -c '[ "$(systemctl show -P ActiveState e2e-svc.service)" = active ]' || true
assert_eq "$(unit_prop e2e-svc.service ActiveState)" active "e2e-svc.service (restarted by the gate) ActiveState"
assert_eq "$(find /var/lib/e2e-svc -maxdepth 1 -name '.svc.env.unitsmith-*.tmp' -type f | wc -l)" 0 "temporary files left"

step "env gate: Output= in a directory of a user who is not the consumer's is refused"
install -d -o nobody -g nogroup -m 0755 /var/lib/e2e-other
as_nobody ln -s "$VICTIM" /var/lib/e2e-other/other.env
cat >/etc/systemd/system/e2e-root.service <<'UNIT'
[Unit]
Description=e2e consumer running as root
[Service]
Type=exec
EnvironmentFile=-/var/lib/e2e-other/other.env
ExecStart=/bin/sleep infinity
UNIT
cat >/etc/unitsmith/other-creds.envgate <<'DECL'
[EnvGate]
WaitFor=/etc/app/never.env
Output=/var/lib/e2e-other/other.env
Import=ROLE
StubKeys=ROLE
Consumer=e2e-root.service
Timeout=1min
DECL
systemctl daemon-reload
systemctl start other-creds.service
log=$(journalctl -b -u other-creds.service -o cat)
assert_contains "$log" "/var/lib/e2e-other: the directory is owned by nobody" "other-creds.service journal"
assert_eq "$(stat -c %F /var/lib/e2e-other/other.env)" "symbolic link" "the planted link (neither followed nor replaced)"
victim_untouched
note "journal: $(grep -m1 'is owned by nobody' <<<"$log")"

step "issue 20: the \\r stub of a dangling link ran at boot, and nothing it injected"
assert_eq "$(unit_prop e2e-cron.service FragmentPath)" /run/systemd/generator/e2e-cron.service "e2e-cron.service FragmentPath (the stub outranks the vendor unit)"
assert_eq "$(unit_prop e2e-cron.service ActiveState)" failed "e2e-cron.service, the stub, started at boot"
assert_fails test -e /etc/e2e-pwned-at-boot
assert_eq "$(unit_prop e2e-cron.service ExecStartPre)" "" "e2e-cron.service ExecStartPre"
verify=$(systemd-analyze verify /run/systemd/generator/e2e-cron.service 2>&1 || true)
assert_not_contains "$verify" "Missing '='" "systemd-analyze verify of the stub"
assert_not_contains "$verify" "e2e-pwned" "systemd-analyze verify of the stub"
note "stub: $(grep -m1 '^Description=' /run/systemd/generator/e2e-cron.service)"

step "issue 20: a gate shared by nobody's consumer and root's trusts root alone"
cat >/etc/systemd/system/e2e-root2.service <<'UNIT'
[Unit]
Description=e2e consumer running as root, sharing a gate with nobody's e2e-svc
[Service]
Type=exec
EnvironmentFile=-/var/lib/e2e-svc/shared.env
ExecStart=/bin/sleep infinity
UNIT
cat >/etc/unitsmith/shared-creds.envgate <<'DECL'
[EnvGate]
WaitFor=/etc/app/never.env
Output=/var/lib/e2e-svc/shared.env
Import=ROLE
StubKeys=ROLE
Consumer=e2e-svc.service e2e-root2.service
Timeout=1min
DECL
systemctl daemon-reload
systemctl start shared-creds.service
log=$(journalctl -b -u shared-creds.service -o cat)
assert_contains "$log" "/var/lib/e2e-svc: the directory is owned by nobody" "shared-creds.service journal"
assert_contains "$log" "but not of e2e-root2.service" "shared-creds.service journal"
assert_fails test -e /var/lib/e2e-svc/shared.env
as_nobody sh -c 'printf "# unitsmith env gate real\nLD_PRELOAD=/var/lib/e2e-svc/evil.so\n" >/var/lib/e2e-svc/shared.env'
systemctl start e2e-root2.service || true
assert_eq "$(unit_prop e2e-root2.service ActiveState)" inactive "e2e-root2.service, held by its check"
assert_contains "$(journalctl -b -u e2e-root2.service -o cat)" "held by env gate shared-creds: /var/lib/e2e-svc" "e2e-root2.service journal"

step "issue 20: doctor as root over nobody's users/65534 directory of links to itself"
install -d -o nobody -g nogroup -m 0755 /etc/containers/systemd/users/65534
as_nobody sh -c 'for i in $(seq 0 39); do ln -s . /etc/containers/systemd/users/65534/l$i; done; printf "[Container]\nImage=a\n" >/etc/containers/systemd/users/65534/web.container'
t0=$(now_s)
rc=0
out=$(timeout 60 unitsmith doctor 2>&1) || rc=$?
[ "$rc" != 124 ] || check_failed "doctor did not finish within 60 s"
note "doctor took $(seconds_between "$t0" "$(now_s)") s (exit $rc)"
assert_contains "$out" "/etc/containers/systemd/users/65534: not walked: 40 symbolic links not followed" "doctor"
assert_contains "$out" "/etc/containers/systemd/users/65534/web.container" "doctor (the stray file)"
rm -rf /etc/containers/systemd/users/65534
systemctl stop svc-creds-wait.service other-creds-wait.service shared-creds-wait.service e2e-svc.service 2>/dev/null || true

step "generator: inputs nobody plants in a directory delegated to them"
install -d -m 0755 /usr/local/share/e2e
cat >/usr/local/share/e2e/real.container <<UNIT
[Container]
Image=docker.io/library/busybox:latest
[Service]
ExecStartPre=/bin/touch $PWNED
UNIT
install -d -o nobody -g nogroup -m 0755 "$TEAM"
as_nobody ln -s /usr/local/share/e2e/real.container "$TEAM/linked.container"
as_nobody sh -c "printf '[Container]\\nImage=docker.io/library/busybox:latest\\n[Service]\\nExecStartPre=/bin/touch $PWNED\\n[Install]\\nWantedBy=multi-user.target\\n' >$TEAM/e2e-vendor.container"
units=(linked.service)
if command -v python3 >/dev/null; then
	# A process of nobody's whose /proc/PID/cmdline is a unit (its argument area rewritten,
	# no NUL in it) and which is not dumpable: the kernel shows the file as root's, 0444.
	payload=$(printf '\n[Container]\nImage=docker.io/library/busybox:latest\n[Service]\nExecStartPre=/bin/touch %s\n[Install]\nWantedBy=multi-user.target\n#' "$PWNED")
	# (setpriv itself in the background, not the as_nobody function: $! is then the process
	# that becomes python3.)
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- env -i python3 -c '
import ctypes, sys, time
p = sys.argv[1].encode()
f = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
a, b = int(f[45]), int(f[46])
ctypes.memmove(a, p + b"#" * (b - a - len(p)), b - a)
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
time.sleep(300)' "$payload" "$(printf '%*s' 300 '')" &
	evil_pid=$!
	wait_for --timeout 10 sh -c "grep -q '^ExecStartPre=' /proc/$evil_pid/cmdline && [ \"\$(stat -c %U /proc/$evil_pid/cmdline)\" = root ]" ||
		check_failed "nobody's process did not become non-dumpable"
	as_nobody ln -s "/proc/$evil_pid/cmdline" "$TEAM/evil.container"
	units+=(evil.service)
	note "/proc/$evil_pid/cmdline: $(stat -c '%U %a' "/proc/$evil_pid/cmdline"), starts with $(head -c 40 "/proc/$evil_pid/cmdline" | tr '\n' ' ')"
else
	note "no python3 in this guest: the /proc/PID/cmdline link is tried where there is one (and in generator/tests/attacks.rs)"
fi
systemctl daemon-reload
check_generator_refusals "${units[@]}"
note "$(grep -m1 '^Error=' "$(generated_unit_path linked.service)")"
check_vendor_unit_kept
[ -z "${evil_pid:-}" ] || kill "$evil_pid" 2>/dev/null || true
