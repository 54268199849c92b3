#!/bin/bash
# Hostile inputs at boot never block the generator and are never dropped without a word:
#   - a FIFO, a socket and a 2 MiB file named like inputs become failure stubs at once (the
#     generator used to block on the FIFO until systemd killed it, losing every unit);
#   - 'sp ace.container' (a name systemd refuses) gets its stub as sp\x20ace.service, the name
#     `systemctl status 'sp ace'` looks for; a file name that is not UTF-8 gets one too;
#   - '@.container' (no valid unit name at all) gets no unit, but the generator says so in its
#     messages, and `unitsmith doctor` and `unitsmith reload` list it;
#   - the good file next to them is a real unit, at boot and after daemon-reload.
# Inputs: made by 11-hostile-inputs.d/setup.sh (git cannot hold FIFOs, sockets, such names).
# e2e-guests: bookworm testing
# e2e-timeout: 120
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

STUBS=(fifo.service socket.service huge.service 'sp\x20ace.service' 'bad\xffname.service')

check_units() {
	local u path
	assert_eq "$(unit_prop good.service LoadState)" loaded "good.service LoadState"
	path=$(unit_prop good.service FragmentPath)
	if [ -f "$path" ] && grep -q '^\[X-Unitsmith\]' "$path"; then
		check_failed "good.service is a failure stub: $(grep '^Error=' "$path")"
	fi
	for u in "${STUBS[@]}"; do
		assert_eq "$(unit_prop "$u" LoadState)" loaded "$u LoadState"
		path=$(unit_prop "$u" FragmentPath)
		[ -f "$path" ] && assert_file_matches "$path" '^Error=.' "$u carries its error ($path)"
	done
	assert_file_matches "$(unit_prop fifo.service FragmentPath)" 'Error=.*a FIFO \(named pipe\)' "fifo.service says what it is"
	assert_file_matches "$(unit_prop huge.service FragmentPath)" 'Error=.*over the limit of 1048576 bytes' "huge.service says why"
	# What an operator types: systemctl escapes it to the stub's name.
	assert_eq "$(unit_prop 'sp ace.service' Id)" 'sp\x20ace.service' "systemctl's name for 'sp ace'"
	assert_contains "$(unit_prop 'sp ace.service' Description)" 'is not a valid unit name' "'sp ace' stub Description"
}

step "units generated at boot (the FIFO did not block the generator)"
check_units
# At boot its messages go to /dev/kmsg on a machine, to the console in this container (not
# to the journal: journald is not up yet), so the generator is run again here to read them.
step "the generator names the input that got no unit, and exits 1"
gen=$(ls /usr/*/lib/systemd/system-generators/unitsmith-generator /usr/lib/systemd/system-generators/unitsmith-generator 2>/dev/null | head -n 1 || true)
tmp=$(mktemp -d)
if timeout 20 "$gen" --no-kmsg-log "$tmp" 2>"$tmp.log"; then
	check_failed "$gen exited 0"
else
	assert_eq "$?" 1 "$gen exit status"
fi
assert_contains "$(cat "$tmp.log")" '@.container: cannot become a unit' "generator messages"
rm -rf "$tmp" "$tmp.log"
step "doctor lists it"
if out=$(unitsmith doctor 2>&1); then
	check_failed "doctor exited 0 with a bad input"
else
	ok "doctor exited non-zero"
fi
assert_contains "$out" 'error (bad-name)' "doctor output"
assert_contains "$out" '@.container' "doctor output"

step "unitsmith reload names it too, and exits 1"
if out=$(unitsmith reload 2>&1); then
	check_failed "reload exited 0 with an input that has no unit"
else
	ok "reload exited non-zero"
fi
assert_contains "$out" '@.container: cannot become a unit' "reload output"

step "daemon-reload: the same, and quickly"
start=$(now_s)
systemctl daemon-reload
took=$(seconds_between "$start" "$(now_s)")
awk -v t="$took" 'BEGIN { exit !(t < 10) }' && ok "daemon-reload took ${took}s" || check_failed "daemon-reload took ${took}s"
check_units
