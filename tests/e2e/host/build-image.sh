#!/usr/bin/env bash
# Build a fleet image with examples/image/build-image.sh, as it is, over a guest root, without
# modifying the cached root: the root is the lower layer of an overlay whose upper directory
# collects the image build, and that upper directory is then the layer every boot of an
# "# e2e-package: image" scenario runs on. Then `unitsmith lint --root` of the built tree, with
# the package's own binary run on this host; its report and exit status are left in the image
# (/var/lib/e2e/image-lint.txt, .rc) for the scenario to judge.
#
#   build-image.sh ROOTFS LAYER_DIR DEB REPO
#
# run.sh calls this under `unshare --mount`: the mounts vanish with this process.
set -euo pipefail
rootfs=$1 layer=$2 deb=$3 repo=$4

mkdir -p "$layer/upper" "$layer/work" "$layer/root"
mount -t overlay e2e-image -o "lowerdir=$rootfs,upperdir=$layer/upper,workdir=$layer/work" "$layer/root"
root=$layer/root
mount -t proc proc "$root/proc"
"$repo/examples/image/build-image.sh" "$root" "$deb"
umount "$root/proc"

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
dpkg-deb -x "$deb" "$bin"
rc=0
"$bin/usr/bin/unitsmith" lint --root "$root" >"$layer/lint.txt" 2>&1 || rc=$?
install -D -m 0644 "$layer/lint.txt" "$root/var/lib/e2e/image-lint.txt"
echo "$rc" >"$root/var/lib/e2e/image-lint.rc"
cat "$layer/lint.txt"
echo "lint --root: exit $rc"
umount "$root"
