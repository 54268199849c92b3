#!/usr/bin/env bash
# Install unitsmith's .deb into a guest root the way a user does (dpkg -i), without modifying
# the cached root: the root is the lower layer of an overlay whose upper directory collects
# what dpkg changed, and that upper directory is then a read-only layer of every boot.
#
#   install-deb.sh ROOTFS LAYER_DIR DEB [GENERATOR_OVERRIDE]
#
# run.sh calls this under `unshare --mount`: the mounts vanish with this process. No systemd
# runs here (dpkg in a chroot, as in an image build): the package's postinst sees no
# /run/systemd/system and reloads nothing.
set -euo pipefail
rootfs=$1 layer=$2 deb=$3 override=${4:-}

mount -t overlay e2e-pkg -o "lowerdir=$rootfs,upperdir=$layer/upper,workdir=$layer/work" "$layer/root"
root=$layer/root
mount -t proc proc "$root/proc"
install -m 0644 "$deb" "$root/tmp/unitsmith.deb"
chroot "$root" dpkg -i /tmp/unitsmith.deb
chroot "$root" dpkg -s unitsmith | grep -E '^(Status|Version):'
rm -f "$root/tmp/unitsmith.deb"
if [ -n "$override" ]; then
	echo "e2e: NOTE: E2E_GENERATOR_OVERRIDE: the guest runs $override as unitsmith-generator"
	install -m 0755 "$override" "$root/usr/lib/systemd/system-generators/unitsmith-generator"
fi
umount "$root/proc"
umount "$root"
