#!/bin/bash
# unitsmith as a systemd system extension (`make sysext`) on a host without the package
# (testing guest: systemd 262, the real Podman and its own Quadlet generator):
#   boot 1: the image placed in /var/lib/extensions and `systemd-sysext merge`d: its binaries
#     are in /usr, and unitsmith's generator ran at the reload the merge makes (a failure stub
#     only unitsmith writes); `unitsmith takeover`, run from the extension, makes its link in
#     /etc and the running container is not restarted; a new Quadlet container started with
#     `unitsmith reload --restart-changed` runs from unitsmith's units;
#   boot 2: systemd-sysext.service merged the image at boot, and the containers wanted at boot
#     run from unitsmith's units (the image's unitsmith-extension-start.service, upheld by
#     multi-user.target); then the way back, in the order the README gives: `takeover --undo`,
#     then `systemd-sysext unmerge`: Podman's generator has the files again, every container
#     still runs, the same one.
# Files: 87-sysext.d/setup.sh.
# e2e-guests: testing
# e2e-package: none
# e2e-sysext: yes
# e2e-host-packages: erofs-utils
# e2e-boots: 2
# e2e-timeout: 240
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

MASK=/etc/systemd/system-generators/podman-system-generator
CONTAINERS=(web api)

# Who wrote UNIT's file: unitsmith, podman, or nothing (no unit file in the generator dirs).
writer() {
	local f
	f=$(generated_unit_path "$1") || { echo nothing; return; }
	case $(head -n 1 "$f") in
	*unitsmith-generator*) echo unitsmith ;;
	*podman*) echo podman ;;
	*) echo other ;;
	esac
}
running() { [ "$(unit_prop "$1" SubState)" = running ]; }
check_running() { # UNIT WRITER
	wait_for --timeout 60 running "$1" || true
	assert_eq "$(unit_prop "$1" ActiveState)/$(unit_prop "$1" SubState)" active/running "$1"
	assert_eq "$(writer "$1")" "$2" "writer of $1"
}
start_unit_done() { [ "$(unit_prop unitsmith-extension-start.service ActiveState)" = active ]; }
extension_merged() { systemd-sysext status --json=short | grep -q '"unitsmith'; }

case $E2E_BOOT in
1)
	step "before: no unitsmith; Podman's generator runs the container wanted at boot"
	assert_fails command -v unitsmith
	check_running web.service podman
	assert_eq "$(writer probe.service)" nothing "writer of probe.service (/etc/unitsmith is unitsmith's)"
	web0=$(container_id web)

	step "systemd-sysext merge: the image's files in /usr, its generator run at the reload"
	image=$(ls /var/lib/e2e/unitsmith-*.raw)
	note "image: $(basename "$image"), $(stat -c %s "$image") bytes"
	mkdir -p /var/lib/extensions
	# Under its versioned name: systemd-sysext takes extension-release.unitsmith for it only
	# through the xattr user.extension-release.strict=0 (without it, merge refuses the image).
	cp "$image" /var/lib/extensions/
	rc=0
	out=$(systemd-sysext merge 2>&1) || rc=$?
	echo "$out" | sed 's/^/# merge: /'
	assert_eq "$rc" 0 "systemd-sysext merge exit status"
	(systemd-sysext status 2>&1 || true) | sed 's/^/# status: /'
	assert_succeeds extension_merged
	assert_eq "$(command -v unitsmith)" /usr/bin/unitsmith "unitsmith on PATH"
	assert_succeeds test -x /usr/lib/systemd/system-generators/unitsmith-generator
	assert_succeeds test -L /usr/lib/systemd/user-generators/unitsmith-user-generator
	assert_succeeds test -f /usr/share/man/man1/unitsmith.1.gz
	# No daemon-reload of ours: the merge made it (EXTENSION_RELOAD_MANAGER=1).
	assert_eq "$(writer probe.service)" unitsmith "writer of probe.service after the merge"
	assert_file_matches "$(generated_unit_path probe.service)" '^\[X-Unitsmith\]' "probe.service (a failure stub)"
	assert_eq "$(unit_prop probe.service LoadState)" loaded "probe.service LoadState"
	# Until takeover, the containers directories stay Podman's generator's.
	assert_eq "$(writer web.service)" podman "writer of web.service before takeover"
	# multi-user.target upholds the image's start unit as soon as systemd sees it.
	wait_for --timeout 60 start_unit_done || true
	assert_eq "$(unit_prop unitsmith-extension-start.service ActiveState)" active "unitsmith-extension-start.service"

	step "unitsmith takeover, run from the extension: the link in /etc, the container kept"
	rc=0
	out=$(unitsmith takeover 2>&1) || rc=$?
	echo "$out" | sed 's/^/# /'
	assert_eq "$rc" 0 "takeover exit status"
	assert_eq "$(readlink "$MASK")" /dev/null "$MASK"
	assert_eq "$(writer web.service)" unitsmith "writer of web.service after takeover"
	check_running web.service unitsmith
	assert_eq "$(container_id web)" "$web0" "web's container (not restarted by takeover)"

	step "a new Quadlet container, started by unitsmith reload, runs from unitsmith's units"
	cat >/etc/containers/systemd/api.container <<-'QUADLET'
		[Container]
		Image=docker.io/library/busybox:stable
		ContainerName=api
		Exec=/bin/sh -c "trap 'exit 0' TERM; httpd -f -p 8081 -h /tmp & wait"

		[Install]
		WantedBy=multi-user.target
	QUADLET
	rc=0
	out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
	echo "$out" | sed 's/^/# reload: /'
	check_running api.service unitsmith
	assert_contains "$(podman ps --format '{{.Names}}')" api "podman ps"

	step "for the next boot: systemd-sysext.service merges /var/lib/extensions"
	systemctl enable systemd-sysext.service 2>&1 | sed 's/^/# /'
	;;
2)
	step "boot 2: systemd-sysext.service merged the image at boot"
	assert_eq "$(unit_prop systemd-sysext.service ActiveState)" active "systemd-sysext.service"
	assert_succeeds extension_merged
	assert_eq "$(command -v unitsmith)" /usr/bin/unitsmith "unitsmith on PATH"

	step "the containers wanted at boot run, from unitsmith's units"
	check_running web.service unitsmith
	check_running api.service unitsmith
	assert_eq "$(writer probe.service)" unitsmith "writer of probe.service"
	wait_for --timeout 60 start_unit_done || true
	assert_eq "$(unit_prop unitsmith-extension-start.service Result)" success "unitsmith-extension-start.service Result"
	(journalctl -b -q --no-pager -o cat -u unitsmith-extension-start.service || true) | sed 's/^/# start unit: /'
	before=$(container_ids)

	step "the way back, first takeover --undo: Podman's generator has the files, nothing restarted"
	rc=0
	out=$(unitsmith takeover --undo 2>&1) || rc=$?
	echo "$out" | sed 's/^/# /'
	assert_eq "$rc" 0 "takeover --undo exit status"
	assert_fails test -L "$MASK"
	assert_eq "$(writer web.service)" podman "writer of web.service after --undo"
	assert_eq "$(writer api.service)" podman "writer of api.service after --undo"
	assert_only_replaced "$before"

	step "then systemd-sysext unmerge: unitsmith gone, every container still runs, the same"
	rc=0
	out=$(systemd-sysext unmerge 2>&1) || rc=$?
	echo "$out" | sed 's/^/# unmerge: /'
	assert_eq "$rc" 0 "systemd-sysext unmerge exit status"
	assert_fails extension_merged
	assert_fails test -e /usr/bin/unitsmith
	assert_fails test -e /usr/lib/systemd/system-generators/unitsmith-generator
	for u in web.service api.service; do
		check_running "$u" podman
		assert_eq "$(unit_prop "$u" LoadState)" loaded "$u LoadState"
		assert_eq "$(unit_prop "$u" NeedDaemonReload)" no "$u NeedDaemonReload (unmerge reloaded)"
	done
	assert_only_replaced "$before"
	assert_eq "$(writer probe.service)" nothing "writer of probe.service (no unitsmith generator)"
	;;
esac
