#!/bin/bash
# `unitsmith doctor` on real systemd (issue 6, scenario 3, and the other causes it must name).
# The files are in place at boot (62-doctor.d/root/):
#   /etc/systemd/system/stray.container   in a directory unitsmith does not read (the case)
#   /etc/containers/systemd/users/1000/personal.container   user managers only
#   web.conatiner (misspelt extension), bad.container (typo: a failure stub), app.container
#   (needs broken.volume, which has a typo), one/two.container (both ServiceName=same),
#   needs.container (Requires= fails.service, which fails), good.container (all well).
# Then, on a running system: our generator masked, a unit file overriding a generated unit,
# an input edited without a reload.
# e2e-timeout: 120
. /e2e/lib.sh

Q=/etc/containers/systemd
install_podman_standin

doctor() { # ARGS... -> sets OUT and RC
	RC=0
	OUT=$(unitsmith doctor "$@" 2>&1) || RC=$?
	note "unitsmith doctor $*: exit $RC"
}

expect() { # WHAT RC NEEDLE...
	local what=$1 rc=$2 n
	shift 2
	assert_eq "$RC" "$rc" "$what: exit status"
	for n in "$@"; do assert_contains "$OUT" "$n" "$what"; done
	[ "$E2E_FAILURES" = 0 ] || echo "$OUT" | sed 's/^/#   /'
}

step "a unit whose file sits in a directory we do not read: doctor says so"
doctor stray.service
expect "doctor stray.service" 1 \
	"/etc/systemd/system/stray.container" \
	"not read: /etc/systemd/system is a systemd unit directory" \
	"hint: move it to $Q/" \
	"stray.service is not loaded: no input unitsmith reads gives it; /etc/systemd/system/stray.container would"
doctor /etc/systemd/system/stray.container
expect "doctor on the file itself" 1 "/etc/systemd/system/stray.container  stray.service  error" "systemd unit directory"
doctor stray.container
expect "doctor by file name" 1 "/etc/systemd/system/stray.container  stray.service  error"

step "a healthy unit"
systemctl start good.service
doctor good.service
expect "doctor good.service" 0 "good.service  loaded  active/running  ok      $Q/good.container" "nothing wrong"

step "the other causes"
doctor bad.service
expect "stub" 1 "error (stub): $Q/bad.container:2: [Container] Imag:" "hint: did you mean 'Image'?"
doctor app.service
expect "dependency that failed to generate" 1 "error (dependency-failed):" "depends on broken.volume (broken-volume.service), which failed" "$Q/broken.volume:2:"
doctor two.container
expect "name collision" 1 "error (collision): $Q/two.container: not generated: same.service is already generated from $Q/one.container"
assert_fails systemctl start needs.service
doctor needs.service
expect "dependency that failed in systemd" 1 "error (dependency-failed): needs.service requires fails.service, which failed (Result=exit-code)"
doctor $Q/users/1000/personal.container
expect "a per-user file in system mode (where it belongs: info only)" 0 "read by user managers only" "personal.service  info"

step "doctor with no argument: everything, and --json"
doctor
echo "$OUT" | sed 's/^/#   /'
expect "doctor" 1 \
	"good.service" "bad.service" "app.service" "needs.service" \
	"/etc/systemd/system/stray.container" "$Q/users/1000/personal.container" \
	"$Q/web.conatiner" 'did you mean ".container"?' "error (collision)"
doctor --json
expect "doctor --json" 1 '"ok":false' \
	'"path":"/etc/systemd/system/stray.container","unit":"stray.service","status":"error","problems":[{"kind":"not-read"' \
	'"unit":"good.service","source":"/etc/containers/systemd/good.container","status":"ok"'

step "on a running system: generator masked, unit overridden, input edited without reload"
mkdir -p /etc/systemd/system-generators
ln -s /dev/null /etc/systemd/system-generators/unitsmith-generator
systemctl daemon-reload
doctor good.service
expect "generator masked" 1 "generator: NOT INSTALLED" "error (generator-missing): good.service is not generated: /etc/systemd/system-generators/unitsmith-generator masks it"
rm /etc/systemd/system-generators/unitsmith-generator
systemctl daemon-reload
doctor good.service
expect "generator back" 0 "nothing wrong"

cp "$(unit_prop good.service FragmentPath)" /etc/systemd/system/good.service
systemctl daemon-reload
doctor good.service
expect "a unit file overriding the generated one" 1 "warning (overridden): systemd loads /etc/systemd/system/good.service, not the generated unit"
rm /etc/systemd/system/good.service
systemctl daemon-reload

printf '[Container]\nImage=docker.io/library/busybox:latest\nExec=sleep 1000\n' >"$Q/good.container"
doctor good.service
expect "an input edited without a reload" 1 "warning (stale):"
out=$(unitsmith reload good.service 2>&1) || true
doctor good.service
expect "after unitsmith reload" 0 "nothing wrong"
