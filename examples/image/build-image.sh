#!/bin/sh
# build-image.sh ROOT DEB: the generic part of a fleet image, built once, offline, in a chroot
# (the same steps fit mkosi's postinst script or a Packer shell provisioner). ROOT is a Debian
# root tree with systemd and Podman (debootstrap, mkosi); DEB is unitsmith's package (`make deb`).
# Per-instance data comes later, at first boot, from cloud-init: see ../cloud-init/.
#
# Tested as it is: the e2e harness builds an image with it over its Debian testing guest, lints
# the tree with `unitsmith lint --root`, and boots it (scenario 86-image-recipe).
set -eu
root=$1
deb=$2
here=$(cd "$(dirname "$0")" && pwd)

# 1. The package, installed the way users install it (its postinst reloads nothing: no systemd
#    runs in a chroot). The .deb stays in the image for the cloud-init recipe's check.
install -D -m 0644 "$deb" "$root/var/cache/unitsmith/$(basename "$deb")"
chroot "$root" dpkg -i "/var/cache/unitsmith/$(basename "$deb")"

# 2. What every instance runs: Quadlet files and env gates of the image (files/).
cp -R "$here/files/." "$root/"

# 3. unitsmith generates the Quadlet files from the first boot on (Podman's generator masked in
#    the image: no daemon-reload, no check; the image's systemd reads it at boot).
chroot "$root" unitsmith takeover --root /

# 4. Repair lost or failed units every 30 s (systemctl works offline on a root tree).
systemctl --root="$root" enable unitsmith-reconcile.timer

echo "build-image: $root is ready; check it with: unitsmith lint --root $root"
