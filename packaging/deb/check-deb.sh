#!/usr/bin/env bash
# check-deb.sh DEB: the package as Debian's tools and users see it. Fails when lintian reports
# a tag that is neither fixed nor justified in lintian-overrides, or when a file a user relies
# on is missing or in the wrong place.
set -euo pipefail
deb=$1
[ -f "$deb" ] || { echo "check-deb: no such package: $deb" >&2; exit 1; }
command -v lintian >/dev/null || { echo "check-deb: lintian is not installed (apt-get install lintian)" >&2; exit 1; }

fail=0
# Every path a user, a unit file or the documentation names.
expected=(
	./usr/bin/unitsmith
	./usr/lib/systemd/system-generators/unitsmith-generator
	./usr/lib/systemd/user-generators/unitsmith-user-generator
	./usr/lib/systemd/system/unitsmith-reconcile.service
	./usr/lib/systemd/system/unitsmith-reconcile.timer
	./usr/share/doc/unitsmith/copyright
	./usr/share/man/man5/unitsmith.envgate.5.gz
	./usr/share/man/man5/unitsmith.compose.5.gz
	./usr/share/man/man1/unitsmith.1.gz
	./usr/share/man/man1/unitsmith-takeover.1.gz
	./usr/share/man/man1/unitsmith-envgate.1.gz
	./usr/share/man/man1/unitsmith-reload.1.gz
	./usr/share/man/man1/unitsmith-doctor.1.gz
	./usr/share/man/man1/unitsmith-lock.1.gz
	./usr/share/man/man1/unitsmith-reconcile.1.gz
	./usr/share/man/man1/unitsmith-lint.1.gz
	./usr/share/man/man8/unitsmith-generator.8.gz
	./usr/share/bash-completion/completions/unitsmith
	./usr/share/zsh/vendor-completions/_unitsmith
	./usr/share/fish/vendor_completions.d/unitsmith.fish
)
contents=$(dpkg-deb --contents "$deb")
for p in "${expected[@]}"; do
	if ! grep -q " $p\( \|$\)" <<<"$contents"; then
		echo "check-deb: $deb lacks $p"
		fail=1
	fi
done
# Nothing under /usr/local (that is the administrator's), nothing in /etc (no conffiles: the
# package configures nothing; takeover is an explicit step).
if grep -E ' \./(usr/local|etc)/' <<<"$contents"; then
	echo "check-deb: $deb installs into /usr/local or /etc"
	fail=1
fi
# Units and generated units call the helper where the package puts it.
if ! dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/unitsmith-reconcile.service |
	grep -q '^ExecStart=/usr/bin/unitsmith '; then
	echo "check-deb: unitsmith-reconcile.service does not call /usr/bin/unitsmith"
	fail=1
fi

# lintian: errors and warnings fail; info and pedantic tags are printed for the record.
out=$(lintian --fail-on error,warning --display-info "$deb" 2>&1) || {
	echo "$out"
	echo "check-deb: lintian reports tags that are neither fixed nor justified (packaging/deb/lintian-overrides)"
	exit 1
}
[ -z "$out" ] || echo "$out"
# The maintainer scripts through a life cycle, as dpkg runs them for an image's root.
"$(dirname "$0")/check-maintscripts.sh" "$deb" || fail=1
[ "$fail" = 0 ] || exit 1
echo "check-deb: $deb: contents as expected, lintian clean (overrides: packaging/deb/lintian-overrides)"
