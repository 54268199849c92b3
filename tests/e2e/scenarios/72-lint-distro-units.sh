#!/bin/bash
# `unitsmith lint` judges units by the systemd they will run under (issue 16): the guest's
# complete distribution unit set (/usr/lib/systemd/system), linted with the version lint
# finds by itself (the running manager), gives no finding of a line systemd ignores or of a
# unit it refuses, and the report names the guest's systemd. The same with --root / (the
# version of the installed library). Written for any guest (Debian 12's systemd 252, Debian
# testing's 262): a typo and a key newer than the guest's systemd are still reported, so the
# silence over the distribution's units means something. No inputs of its own.
# e2e-timeout: 120
# e2e-guests: bookworm testing
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

# What lint must never say about the distribution's own units under their own systemd.
WRONG_RULES=(unknown-key unknown-section bad-value service-refused)
UNITS=/usr/lib/systemd/system

lint_bin=$(command -v unitsmith) || fail "unitsmith is not in PATH ($PATH)"
note "unitsmith: $lint_bin"
version=$(systemctl show --property=Version --value)
release=${version%%[!0-9]*}
[ -n "$release" ] || fail "cannot read the running systemd's version: '$version'"
note "guest systemd: $version; $(find "$UNITS" -maxdepth 1 -type f -name '*.*' | wc -l) unit files in $UNITS"

# Each WRONG_RULES finding in lint's text output, shown; the count per rule of every rule.
check_no_wrong_findings() { # OUTPUT WHAT
	local rule n
	for rule in "${WRONG_RULES[@]}"; do
		n=$(grep -c "\[$rule\]\$" <<<"$1" || true)
		if [ "$n" = 0 ]; then
			ok "$2: no $rule"
		else
			check_failed "$2: $n $rule finding(s):"$'\n'"$(grep -A1 "\[$rule\]\$" <<<"$1" | head -n 40)"
		fi
	done
	note "$2: findings by rule: $(grep -o '\[[a-z-]*\]$' <<<"$1" | sort | uniq -c | tr -s ' \n' ' ' || true)"
}

step "the distribution's units, judged by the running systemd found by lint itself"
out=$(unitsmith lint "$UNITS" 2>&1) || true # commands of packages not installed: exec-not-found errors
summary=$(grep '^lint: ' <<<"$out" || true)
note "${summary//$'\n'/ | }"
assert_contains "$out" "lint: judged by systemd " "the report names the systemd judged by"
assert_contains "$out" "systemd $release (the running manager, $version)" "the version found is the guest's running systemd"
check_no_wrong_findings "$out" "lint $UNITS"

step "the same with --root /: the version of the library installed in the tree"
out=$(unitsmith lint --root / "$UNITS" 2>&1) || true
lib=$(find /usr/lib /lib -maxdepth 3 -name "libsystemd-shared-$release*.so" 2>/dev/null | head -n 1)
[ -n "$lib" ] || fail "no libsystemd-shared-$release*.so in /usr/lib or /lib"
assert_contains "$out" "systemd $release (installed in /: " "--root / judges by the installed library's version"
assert_contains "$out" "/libsystemd-shared-$release" "--root / names the library ($lib)"
check_no_wrong_findings "$out" "lint --root / $UNITS"

step "the same check still sees what systemd $release really ignores"
dir=$(mktemp -d)
printf '[Service]\nExecStart=/bin/true\nRestrat=always\n' >"$dir/typo.service"
printf '[Socket]\nListenStream=/run/e2e-lint.sock\nXAttrEntryPoint=user.varlink=entrypoint\n' >"$dir/newer.socket"
out=$(unitsmith lint "$dir" 2>&1) || true
assert_contains "$out" "unknown key Restrat= in [Service]: systemd ignores it [unknown-key]" "a typo is reported"
assert_contains "$out" "fix: did you mean Restart=?" "with its did-you-mean"
if [ "$release" -lt 262 ]; then
	assert_contains "$out" "unknown key XAttrEntryPoint= in [Socket]: added in systemd 262; systemd $release here ignores it" \
		"a key of a newer systemd is named as such"
else
	assert_not_contains "$out" "XAttrEntryPoint" "systemd $release knows XAttrEntryPoint="
fi
rm -rf "$dir"
