#!/bin/bash
# unitsmith under a real user manager (testing guest: systemd 262, rootless Podman 5.8). A user
# with lingering gets their own manager; before it starts they have Quadlet files in
# ~/.config/containers/systemd (one with a typo) and an env gate in ~/.config/unitsmith. Then:
#   - at the manager's start our user generator writes the env gate's units; Podman's user
#     generator owns the Quadlet files (and writes nothing for the typo);
#   - `unitsmith takeover --user` (root) masks Podman's user generator and reloads the running
#     user manager as its user: every Quadlet input is now unitsmith's, the typo a stub;
#   - as the user: `doctor --user` explains the typo; `reload --user --restart-changed` starts the
#     rootless container; an edit restarts exactly it;
#   - the env gate in user mode: the consumer is held on the stub, and runs on the real env
#     within seconds of the file;
#   - a restart of the user manager runs our generator at its start: the same units;
#   - `takeover --user --undo` hands the files back.
# e2e-guests: testing
# e2e-timeout: 240
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

U=$E2E_USER
HOME_U=/home/$U
QDIR=$HOME_U/.config/containers/systemd
GEN_DIR=/run/user/$E2E_UID/systemd/generator
ROLE=$HOME_U/role.env

writer() { # UNIT: podman, unitsmith or nothing, from the file in the user's generator dir
	local f=$GEN_DIR/$1
	if [ ! -f "$f" ]; then echo nothing; return; fi
	case $(head -n 1 "$f") in *unitsmith-generator*) echo unitsmith ;; *podman*) echo podman ;; *) echo other ;; esac
}
container_id() { as_user podman inspect --format '{{.Id}}' "$1" 2>/dev/null || echo none; }
user_unit_in_state() { [ "$(user_unit_prop "$1" SubState)" = "$2" ]; } # UNIT SUBSTATE
consumer_env() {
	local pid
	pid=$(user_unit_prop uconsumer.service MainPID)
	[ "${pid:-0}" -gt 0 ] && tr '\0' '\n' <"/proc/$pid/environ" | sed -n "s/^$1=//p"
}

step "the user's files, before their manager starts"
make_user "$U"
user_file "$QDIR/early.container" <<'UNIT'
[Container]
Image=localhost/bb:e2e
Pull=never
UNIT
user_file "$QDIR/typo.container" <<'UNIT'
[Container]
Imag=localhost/bb:e2e
UNIT
user_file "$HOME_U/.config/unitsmith/creds.envgate" <<EOF2
[EnvGate]
WaitFor=$ROLE
Output=$HOME_U/.config/app/app.env
Import=TOKEN
StubKeys=TOKEN
Consumer=uconsumer.service
Timeout=5min
EOF2
user_file "$HOME_U/.config/systemd/user/uconsumer.service" <<'UNIT'
[Service]
EnvironmentFile=%h/.config/app/app.env
ExecStart=/bin/sh -c '[ -n "$$TOKEN" ] || exit 1; exec sleep infinity'
Restart=always
RestartSec=1s

[Install]
WantedBy=default.target
UNIT
as_user mkdir -p "$HOME_U/.config/systemd/user/default.target.wants"
as_user ln -s ../uconsumer.service "$HOME_U/.config/systemd/user/default.target.wants/uconsumer.service"

step "the manager starts: our user generator at its start, Podman's owns the Quadlet files"
start_user_manager "$U"
assert_eq "$(user_unit_prop creds.service LoadState)" loaded "creds.service (the env gate) LoadState"
assert_contains "$(user_unit_prop creds.service FragmentPath)" "$GEN_DIR" "creds.service FragmentPath"
assert_eq "$(user_unit_prop creds.service ActiveState)" active "creds.service ActiveState (populate ran)"
assert_eq "$(user_unit_prop uconsumer.service Result)" exec-condition "uconsumer.service Result (held on the stub)"
assert_eq "$(writer early.service)" podman "writer of early.service before takeover"
assert_eq "$(writer typo.service)" nothing "writer of typo.service before takeover"

step "takeover --user: Podman's user generator masked, the running manager reloaded as its user"
rc=0
out=$(unitsmith takeover --user 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 0 "takeover --user exit status"
assert_eq "$(readlink /etc/systemd/user-generators/podman-user-generator)" /dev/null "user generator mask"
assert_contains "$out" "user manager of $U: reloaded" "takeover --user output"
assert_contains "$out" "unitsmith (failure stub)" "takeover --user output (the typo)"
assert_eq "$(writer early.service)" unitsmith "writer of early.service after takeover"
assert_eq "$(writer typo.service)" unitsmith "writer of typo.service after takeover"

step "as the user: a new Quadlet file; doctor --user explains the typo; reload --user starts the container"
user_file "$QDIR/hello.container" <<'UNIT'
[Container]
Image=localhost/bb:e2e
Pull=never
ContainerName=e2e-user-hello
Environment=GREETING=one
Exec=/bin/sh -c "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"
UNIT
rc=0
out=$(as_user unitsmith doctor --user typo.service 2>&1) || rc=$?
assert_eq "$rc" 1 "doctor --user exit status"
assert_contains "$out" "$QDIR/typo.container:2" "doctor --user typo.service"
assert_contains "$out" "did you mean 'Image'?" "doctor --user typo.service"
as_user podman import --quiet /usr/share/e2e/images/busybox.tar localhost/bb:e2e >/dev/null
rc=0
out=$(as_user unitsmith reload --user --restart-changed --timeout 30s 2>&1) || rc=$?
echo "$out" | sed 's/^/# reload: /'
assert_eq "$rc" 1 "reload --user exit status (the typo is an error)"
assert_eq "$(user_unit_prop hello.service ActiveState)" active "hello.service ActiveState"
assert_contains "$(as_user podman ps --format '{{.Names}}')" e2e-user-hello "the user's podman ps"

step "an edit restarts exactly the edited unit"
before=$(container_id e2e-user-hello)
as_user sed -i 's/^Environment=GREETING=one$/Environment=GREETING=two/' "$QDIR/hello.container"
out=$(as_user unitsmith reload --user --restart-changed --timeout 30s 2>&1) || true
after=$(container_id e2e-user-hello)
[ "$before" != "$after" ] && ok "hello.service restarted: a new container" || check_failed "hello.service was not restarted"
assert_eq "$(as_user podman exec e2e-user-hello sh -c 'echo $GREETING')" two "GREETING in the new container"

step "the env gate in user mode: the consumer runs on the real env within seconds of the file"
assert_eq "$(user_unit_prop creds-wait.service SubState)" running "creds-wait.service (waiting)"
printf 'TOKEN=user-secret-token\n' | user_file "$ROLE" 0600
wait_for --timeout 15 user_unit_in_state uconsumer.service running ||
	check_failed "uconsumer.service not running 15 s after the file"
assert_eq "$(consumer_env TOKEN)" user-secret-token "TOKEN in the consumer's environment"
assert_eq "$(user_unit_prop uconsumer.service NRestarts)" 0 "uconsumer.service NRestarts"
if journalctl -b -q --no-pager -o cat | grep -qF user-secret-token; then check_failed "the token is in the journal"; else ok "no secret in the journal"; fi

step "the manager restarts: our generator runs at its start"
systemctl restart "user@$E2E_UID.service"
wait_for --timeout 30 test -S "/run/user/$E2E_UID/systemd/private" || fail "the manager did not come back"
assert_eq "$(writer hello.service)" unitsmith "writer of hello.service after the manager's restart"
assert_eq "$(user_unit_prop typo.service LoadState)" loaded "typo.service LoadState (a stub)"
assert_eq "$(user_unit_prop creds.service LoadState)" loaded "creds.service LoadState"

step "takeover --user --undo hands the files back to Podman's user generator"
rc=0
out=$(unitsmith takeover --user --undo 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 0 "takeover --user --undo exit status"
assert_eq "$(writer hello.service)" podman "writer of hello.service after undo"
