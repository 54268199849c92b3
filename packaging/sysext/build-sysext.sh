#!/usr/bin/env bash
# build-sysext.sh STAGE OUTDIR: turn a `make install PREFIX=/usr DESTDIR=STAGE` tree into a
# systemd system extension image, OUTDIR/unitsmith-VERSION-ARCH.raw, and print its path as the
# last line. See README.md, "Image-based hosts".
#
# The image is a bare EROFS file system (no partition table, no Verity): systemd-dissect takes
# a file system image without a partition table as the root of an image, and systemd-sysext's
# default image policy for extensions accepts an unprotected one (root=verity+signed+
# encrypted+unprotected+absent, systemd 252 to 262). EROFS because mkfs.erofs (erofs-utils, a
# Debian package) makes it reproducibly (fixed time stamps, owner and UUID), it is what
# systemd's own tools make extensions with, and every kernel of a systemd that has sysext
# reads it (Linux 5.4+); lz4hc is the compressor Debian 12's erofs-utils has.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
stage=$1
outdir=$2

command -v mkfs.erofs >/dev/null ||
	{ echo "build-sysext: mkfs.erofs not found: apt-get install erofs-utils" >&2; exit 1; }
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)
[ -n "$version" ] || { echo "build-sysext: no version in Cargo.toml" >&2; exit 1; }
# systemd's architecture names (ConditionArchitecture=, ARCHITECTURE= in extension-release):
# systemd-sysext refuses an image for another one. The binaries are built for this machine.
case $(uname -m) in
x86_64) arch=x86-64 ;;
aarch64) arch=arm64 ;;
i?86) arch=x86 ;;
armv7l) arch=arm ;;
riscv64) arch=riscv64 ;;
ppc64le) arch=ppc64-le ;;
s390x) arch=s390x ;;
*) echo "build-sysext: no systemd architecture name known for $(uname -m)" >&2; exit 1 ;;
esac
name=unitsmith
image=$outdir/$name-$version-$arch.raw

work=$(mktemp -d "${TMPDIR:-/tmp}/unitsmith-sysext.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/tree
cp -a "$stage/." "$tree/"
# An extension extends /usr (and /opt) only; anything else in it would be ignored.
extra=$(find "$tree" -mindepth 1 -maxdepth 1 ! -name usr)
[ -z "$extra" ] || { echo "build-sysext: outside /usr in the staged tree: $extra" >&2; exit 1; }
for f in "$tree/usr/bin/unitsmith" "$tree/usr/lib/systemd/system-generators/unitsmith-generator"; do
	[ -f "$f" ] || { echo "build-sysext: $f missing from the staged tree" >&2; exit 1; }
	strip --remove-section=.comment --remove-section=.note --strip-unneeded "$f"
done
find "$tree/usr/share/man" -type f ! -name '*.gz' -exec gzip -9n {} +

# The host's glibc must have every symbol version the binaries reference. The README promises
# GLIBC_MAX: a build on a newer system that raised it must not reach a host unnoticed.
glibc_max=${GLIBC_MAX:-2.34}
glibc=$(objdump -T "$tree/usr/bin/unitsmith" "$tree/usr/lib/systemd/system-generators/unitsmith-generator" |
	grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
[ -n "$glibc" ] || { echo "build-sysext: no GLIBC_ symbol versions found (objdump -T)" >&2; exit 1; }
if [ "$(printf '%s\n%s\n' "$glibc" "$glibc_max" | sort -V | tail -n 1)" != "$glibc_max" ]; then
	echo "build-sysext: the binaries need glibc $glibc, more than $glibc_max (GLIBC_MAX)" >&2
	exit 1
fi
echo "build-sysext: the binaries need glibc >= $glibc" >&2

# Starting at boot what the generator makes from the merged image (see the unit's comments).
install -D -m 0644 "$here/unitsmith-extension-start.service" \
	"$tree/usr/lib/systemd/system/unitsmith-extension-start.service"
install -D -m 0644 "$here/10-unitsmith-extension.conf" \
	"$tree/usr/lib/systemd/system/multi-user.target.d/10-unitsmith-extension.conf"

# The extension's identity. systemd-sysext looks for extension-release.NAME, NAME being the
# image's file name without .raw, unless the only file there carries the xattr
# user.extension-release.strict=0: then the image may be deployed under any name
# (unitsmith.raw, or this versioned name). mkfs.erofs keeps user xattrs.
release=$tree/usr/lib/extension-release.d/extension-release.$name
install -D -m 0644 /dev/null "$release"
sed -e "s/@VERSION@/$version/g" -e "s/@ARCH@/$arch/g" "$here/extension-release.in" >"$release"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.extension-release.strict", b"0")' "$release" ||
	{ echo "build-sysext: cannot set a user xattr on $release (file system without user xattrs?)" >&2; exit 1; }

# Reproducible: every file root's, one time stamp (the last commit's), a UUID made of the
# name, version and architecture.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
uuid=$(printf '%s' "$name-$version-$arch" | sha256sum |
	sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')
find "$tree" -depth -exec touch --no-dereference --date="@$epoch" {} +
mkdir -p "$outdir"
rm -f "$image"
mkfs.erofs --quiet -zlz4hc -T"$epoch" -U"$uuid" --all-root "$image" "$tree" >&2
echo "$image"
