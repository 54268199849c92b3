#!/bin/bash
# Quadlet files present at boot become units, at boot and again on daemon-reload:
#   - valid files give real units (web.service, and app@one.service from an instance symlink);
#   - invalid files (a typo'd key, binary junk, an empty file) give a *failure stub* each: a
#     unit that loads, has an [X-Unitsmith] section with Error=, fails when started and says
#     why in its journal. A broken file must never make its unit vanish ("not found").
#   - [Install] WantedBy= is honoured through a .wants symlink in the generator directory.
#   - a file added after boot becomes a unit on daemon-reload.
# Inputs: 10-generator-boot.d/root/etc/containers/systemd/ (+ garbage.container from setup.sh);
# Podman's own generator (in the testing guest) is masked in the seed, as `unitsmith takeover`
# leaves it.
# e2e-timeout: 120
# e2e-guests: bookworm testing
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

VALID=(web.service app@one.service)
STUBS=(bad.service garbage.service empty.service)

check_loaded() {
	local u
	for u in "${VALID[@]}" "${STUBS[@]}"; do
		assert_eq "$(unit_prop "$u" LoadState)" loaded "$u LoadState"
	done
}

check_valid_units() {
	local u path
	for u in "${VALID[@]}"; do
		path=$(unit_prop "$u" FragmentPath)
		assert_contains "$path" /run/systemd/generator "$u FragmentPath"
		if [ -f "$path" ] && grep -q '^\[X-Unitsmith\]' "$path"; then
			check_failed "$u is a failure stub, expected a real unit: $(grep '^Error=' "$path")"
		fi
	done
}

check_stub_files() {
	local u path
	for u in "${STUBS[@]}"; do
		path=$(unit_prop "$u" FragmentPath)
		assert_contains "$path" /run/systemd/generator "$u FragmentPath"
		[ -f "$path" ] || continue
		assert_file_matches "$path" '^\[X-Unitsmith\]' "$u ($path)"
		if unit_file_values "$path" X-Unitsmith Error | grep -q .; then
			ok "$u has a non-empty Error= in [X-Unitsmith]"
		else
			check_failed "$u has no non-empty Error= in [X-Unitsmith]"
		fi
	done
}

check_wanted_by() {
	local link
	link=$(generated_unit_path multi-user.target.wants/web.service) ||
		check_failed "no multi-user.target.wants/web.service in any generator directory"
	[ -n "$link" ] && ok "WantedBy symlink: $link -> $(readlink "$link")"
	assert_contains " $(unit_prop multi-user.target Wants) " " web.service " "Wants of multi-user.target"
}

# Starting a stub must fail, and the unit's own journal must say what is wrong with the file.
check_stubs_fail_with_their_error() {
	local u path error
	for u in "${STUBS[@]}"; do
		if [ "$(unit_prop "$u" LoadState)" != loaded ]; then
			check_failed "$u is not loaded: cannot check that starting it fails"
			continue
		fi
		path=$(unit_prop "$u" FragmentPath)
		error=$(unit_file_values "$path" X-Unitsmith Error 2>/dev/null | head -n 1) || error=
		assert_fails systemctl start "$u"
		assert_eq "$(unit_prop "$u" ActiveState)" failed "$u ActiveState after start"
		if [ -z "$error" ]; then
			check_failed "$u: no Error= text to look for in its journal"
		elif wait_for --timeout 10 journal_has "$u" "$error"; then
			ok "$u journal contains its Error= text: $error"
		else
			check_failed "$u journal lacks its Error= text '$error'; it has:"$'\n'"$(journalctl -b -u "$u" --no-pager -o cat | tail -n 5)"
		fi
		systemctl reset-failed "$u" 2>/dev/null || true
	done
}

journal_has() { # UNIT TEXT
	journalctl -b -u "$1" --no-pager -o cat | grep -qF -- "$2"
}

check_all() {
	check_loaded
	check_valid_units
	check_stub_files
	check_wanted_by
}

step "units generated at boot"
check_all
step "failure stubs fail to start and log their error"
check_stubs_fail_with_their_error

step "after daemon-reload: the same"
systemctl daemon-reload
check_all

step "a file added after boot is a unit after daemon-reload"
assert_eq "$(unit_prop late.service LoadState)" not-found "late.service LoadState before the file exists"
printf '[Container]\nImage=docker.io/library/busybox:latest\n' >/etc/containers/systemd/late.container
systemctl daemon-reload
assert_eq "$(unit_prop late.service LoadState)" loaded "late.service LoadState"
assert_contains "$(unit_prop late.service FragmentPath)" /run/systemd/generator "late.service FragmentPath"
