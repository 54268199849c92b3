#!/bin/bash
# The real Podman running unitsmith's units (testing guest: systemd 262, Podman 5.8). After
# `unitsmith takeover`, Quadlet files of every type that works offline (tests/e2e/fixtures/
# podman-set: a .container on a .network serving a .volume, a .pod with two members, a template
# with two instances, a .build from the local image, an .image from an oci-archive, a .kube)
# are written all at once and applied at once with `unitsmith reload --restart-changed` — the
# generator race. Then: every container really runs; the volume's data survives a restart; an
# edit restarts exactly its unit; a typo is a failure stub that doctor explains while the
# others run on; stops are clean (no container left, units inactive, within TimeoutStopSec=).
# Not here: .artifact (Podman pulls artifacts from a registry only, and none is reachable).
# e2e-guests: testing trixie
# e2e-timeout: 400
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

QDIR=/etc/containers/systemd
CONTAINERS=(e2e-web e2e-db-main e2e-db-sidecar e2e-worker-a e2e-worker-b e2e-from-build
	e2e-from-image e2e-hello-hello)
UNITS=(web.service db-pod.service db-main.service db-sidecar.service worker@a.service
	worker@b.service from-build.service from-image.service hello.service site-volume.service
	front-network.service archived-image.service)
# A .build unit is a oneshot without RemainAfterExit= (as Podman's): done means inactive/success.
BUILDS=(built-build.service)


step "takeover: unitsmith generates the containers directories"
assert_succeeds unitsmith takeover
assert_eq "$(readlink /etc/systemd/system-generators/podman-system-generator)" /dev/null "mask link"
podman_image_ready

step "every file written at once, then unitsmith reload --restart-changed at once"
mkdir -p "$QDIR"
cp -a /root/podman-set/. "$QDIR/"
t0=$(now_s)
rc=0
out=$(unitsmith reload --restart-changed --timeout 30s 2>&1) || rc=$?
note "reload took $(seconds_between "$t0" "$(now_s)")s"
echo "$out" | sed 's/^/# reload: /'
assert_eq "$rc" 0 "unitsmith reload exit status"
assert_not_contains "$out" "not found" "reload output"
assert_not_contains "$(journalctl -b --no-pager)" "not found" "journal ('Unit ... not found')"

step "every container runs, every unit is active"
running=$(podman ps --format '{{.Names}}')
for c in "${CONTAINERS[@]}"; do
	assert_contains "$running" "$c" "podman ps"
done
for u in "${UNITS[@]}"; do
	assert_eq "$(unit_prop "$u" ActiveState)" active "$u ActiveState"
done
for u in "${BUILDS[@]}"; do
	assert_eq "$(unit_prop "$u" ActiveState)/$(unit_prop "$u" Result)/$(unit_prop "$u" ExecMainStatus)" inactive/success/0 "$u (ran to success)"
done
assert_eq "$(podman exec e2e-from-build cat /built.txt)" built-by-quadlet "file from the .build's RUN step"
assert_eq "$(podman exec e2e-worker-b sh -c 'echo $WORKER')" b "WORKER of the template instance worker@b"
assert_eq "$(podman inspect --format '{{.Pod}}' e2e-db-main)" "$(podman inspect --format '{{.Pod}}' e2e-db-sidecar)" "pod of the two db members"
assert_contains "$(podman inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' e2e-web)" systemd-front "networks of e2e-web"

step "the volume's data survives a restart"
podman exec e2e-web sh -c 'echo persisted > /data/index.html'
before=$(container_id e2e-web)
systemctl restart web.service
after=$(container_id e2e-web)
[ "$before" != "$after" ] && ok "web.service restarted: a new container" || check_failed "same container after restart"
wait_for --timeout 10 podman exec e2e-web wget -qO- http://127.0.0.1:8080/ || true
assert_eq "$(podman exec e2e-web wget -qO- http://127.0.0.1:8080/ 2>&1)" persisted "httpd serving the volume after the restart"

step "an edit restarts exactly its unit"
ids_before=$(container_ids)
sed -i 's/^Environment=GREETING=hello$/Environment=GREETING=edited/' "$QDIR/web.container"
out=$(unitsmith reload --restart-changed 2>&1) || check_failed "reload after the edit exited $?"
echo "$out" | sed 's/^/# reload: /'
assert_only_replaced "$ids_before" e2e-web
assert_eq "$(podman exec e2e-web sh -c 'echo $GREETING')" edited "GREETING in the new container"

step "a typo is a failure stub that doctor explains, the others run on"
ids_before=$(container_ids)
printf '[Container]\nImag=localhost/bb:e2e\n' >"$QDIR/typo.container"
rc=0
out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
echo "$out" | sed 's/^/# reload: /'
assert_eq "$rc" 1 "reload exit status with a typo"
assert_contains "$out" "$QDIR/typo.container:2" "reload output"
assert_contains "$out" "did you mean 'Image'?" "reload output"
rc=0
out=$(unitsmith doctor typo.service 2>&1) || rc=$?
assert_eq "$rc" 1 "doctor exit status"
assert_contains "$out" "typo.container:2" "doctor typo.service"
assert_contains "$out" "Imag" "doctor typo.service"
assert_eq "$(unit_prop typo.service LoadState)" loaded "typo.service LoadState (a stub, not 'not found')"
assert_only_replaced "$ids_before" # none: the typo costs no other unit its container

step "stops are clean: no container left, units inactive, within TimeoutStopSec="
# A stop that ran past TimeoutStopSec= would end in SIGKILL and Result=timeout: a clean stop
# is inactive with Result=success.
for u in "${UNITS[@]}"; do
	t0=$(now_s)
	systemctl stop "$u"
	note "$u stopped in $(seconds_between "$t0" "$(now_s)")s (TimeoutStopSec=$(unit_prop "$u" TimeoutStopUSec))"
	assert_eq "$(unit_prop "$u" ActiveState)/$(unit_prop "$u" Result)" inactive/success "$u after stop"
done
assert_eq "$(podman ps -a --format '{{.Names}}' | grep -c '^e2e-' || true)" 0 "e2e containers left (podman ps -a)"
systemctl --failed --no-legend --plain | sed 's/^/# failed: /'
assert_eq "$(systemctl --failed --no-legend --plain | grep -v '^typo.service' | grep -c . || true)" 0 "failed units (besides the typo stub)"
