#!/bin/bash
# Host side of 89-deb-lifecycle: a guest WITHOUT unitsmith (# e2e-package: none) whose Quadlet
# files Podman's own generator serves from the first boot, and two packages to install:
#   /var/cache/unitsmith/install/  the package under test (E2E_DEB_FILE, `make deb`);
#   /var/cache/unitsmith/upgrade/  the same files under a higher version (VERSION+e2e.1), so
#                                  that dpkg runs an upgrade's maintainer scripts (prerm
#                                  upgrade, postinst configure OLD) over the installed one.
# and a unit that imports the offline busybox as localhost/bb:e2e before the containers start
# (image storage is a tmpfs, empty at every boot).
set -euo pipefail
layer=$1
here=$(cd "$(dirname "$0")" && pwd)
[ -f "${E2E_DEB_FILE:-}" ] || { echo "setup.sh: E2E_DEB_FILE is not the package" >&2; exit 1; }

install -D -m 0644 "$E2E_DEB_FILE" "$layer/var/cache/unitsmith/install/$(basename "$E2E_DEB_FILE")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -R "$E2E_DEB_FILE" "$work/pkg"
version=$(sed -n 's/^Version: //p' "$work/pkg/DEBIAN/control")
sed -i "s/^Version: .*/Version: $version+e2e.1/" "$work/pkg/DEBIAN/control"
mkdir -p "$layer/var/cache/unitsmith/upgrade"
dpkg-deb --root-owner-group -Zxz --build "$work/pkg" "$layer/var/cache/unitsmith/upgrade/" >/dev/null

mkdir -p "$layer/etc/containers/systemd"
cp -a "$here/../../fixtures/podman-set/." "$layer/etc/containers/systemd/"

install -D -m 0644 /dev/stdin "$layer/etc/systemd/system/e2e-bb-image.service" <<'UNIT'
# e2e: localhost/bb:e2e, the offline busybox the podman-set's containers run.
[Unit]
Description=e2e: localhost/bb:e2e from the offline image
# Before the containers (Quadlet units are After=network-online.target).
Before=network-online.target
After=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/podman import --quiet /usr/share/e2e/images/busybox.tar localhost/bb:e2e

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$layer/etc/systemd/system/multi-user.target.wants"
ln -sf ../e2e-bb-image.service "$layer/etc/systemd/system/multi-user.target.wants/"
