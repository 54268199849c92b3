#!/usr/bin/env bash
# build-deb.sh STAGE OUTDIR: turn a `make install PREFIX=/usr DESTDIR=STAGE` tree into
# OUTDIR/unitsmith_VERSION_ARCH.deb with dpkg-deb, and print the .deb's path as the last line.
#
# dpkg-deb rather than cargo-deb: the tree is already laid out by `make install` (the one
# place that knows where each file goes), so what is left is Debian's metadata: a control file
# with the dependencies dpkg-shlibdeps computes, the copyright and changelog files, compressed
# man pages, stripped binaries and three maintainer scripts. dpkg-dev is on every Debian host;
# cargo-deb would be a second description of the same layout and a build to install in CI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
stage=$1
outdir=$2

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)
[ -n "$version" ] || { echo "build-deb: no version in Cargo.toml" >&2; exit 1; }
arch=$(dpkg --print-architecture)
pkg=unitsmith
deb=$outdir/${pkg}_${version}_${arch}.deb

# Laid out as dpkg-shlibdeps expects: debian/control beside debian/PACKAGE/ (the tree).
work=$(mktemp -d "${TMPDIR:-/tmp}/unitsmith-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/debian/$pkg
mkdir -p "$root"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$work/debian/control"
cp -a "$stage/." "$root/"
# Files are root's whatever user built them.
chown -R 0:0 "$root" 2>/dev/null || true

# Debian policy: binaries stripped (the debug info is 10x their size), man pages gzipped.
for f in "$root/usr/bin/unitsmith" "$root/usr/lib/systemd/system-generators/unitsmith-generator"; do
	[ -f "$f" ] || { echo "build-deb: $f missing from the staged tree" >&2; exit 1; }
	strip --remove-section=.comment --remove-section=.note --strip-unneeded "$f"
done
find "$root/usr/share/man" -type f ! -name '*.gz' -exec gzip -9n {} +

doc=$root/usr/share/doc/$pkg
install -d "$doc" "$root/usr/share/lintian/overrides"
install -m 0644 "$here/copyright" "$doc/copyright"
# A native package's changelog, from the version: one entry per release of the project.
date=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}")
sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$date/g" "$here/changelog.in" | gzip -9n >"$doc/changelog.gz"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/$pkg"

# Dependencies of the two binaries, as dpkg-shlibdeps finds them (libc6, libgcc-s1). It finds
# the package's root by its DEBIAN directory.
install -d -m 0755 "$root/DEBIAN"
depends=$(cd "$work" && dpkg-shlibdeps -O \
	"debian/$pkg/usr/bin/unitsmith" "debian/$pkg/usr/lib/systemd/system-generators/unitsmith-generator" |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
	-e "s/@SIZE@/$size/" "$here/control.in" >"$root/DEBIAN/control"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

mkdir -p "$outdir"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
