#!/bin/bash
# Units for the Podman installed (issue 22): Debian 12's real Podman 4.3.1 and testing's 5.8.
# The package recorded the release at installation (its postinst); the generator used it at
# boot without running podman: a key this Podman lacks (HealthLogDestination=, 5.3) is a stub
# naming key, release needed and release here (on 4.3.1; a container on 5.8), and doctor and
# lint say the same; keys Podman's Quadlet added later whose flags 4.3 has (HostName=,
# WorkingDir=, ShmSize=) run; a
# volume and network are created without --ignore before 4.4, and again and again without
# error; the table of flags (requirements.txt) agrees with this podman's own --help; a changed
# binary is unknown until the package's dpkg trigger or `unitsmith reload` records it again.
# Inputs: 90-podman-versions.d/root/etc/unitsmith/ (unitsmith's own directory: on testing
# Podman's generator keeps /etc/containers/systemd, no takeover needed).
# e2e-guests: bookworm-podman testing
# e2e-timeout: 240
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

podman_image_ready
here=$(podman --version | sed -n 's/^podman version \([0-9][0-9.]*\).*/\1/p')
note "podman here: $here ($E2E_GUEST)"
# VERSION >= OTHER (sort -V; "6.0.0-dev" counts as 6.0.0)
at_least() { [ "$(printf '%s\n%s\n' "${1%%-*}" "${2%%-*}" | sort -V | head -n 1)" = "${2%%-*}" ]; }
old=   # this Podman lacks HealthLogDestination= (before 5.3)
at_least "$here" 5.3.0 || old=1
needs="HealthLogDestination needs Podman 5.3.0 or later (for \`podman run --health-log-destination\`); the Podman here is $here"

step "the package recorded the podman installed; the generator generates for it"
rc=0
out=$(unitsmith podman-version --json) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 0 "unitsmith podman-version exit status"
assert_contains "$out" "\"version\":\"$here\",\"source\":\"record\"" "podman-version --json"
assert_file_matches /var/lib/unitsmith/podman-version "^$here [0-9]+ [0-9]+\.[0-9]{9} /usr/bin/podman\$" "the record"

step "a key this Podman cannot do is a stub naming the key, the release it needs, the release here"
assert_eq "$(unit_prop newkey.service LoadState)" loaded "newkey.service LoadState"
if [ -n "$old" ]; then
	assert_file_matches "$(generated_unit_path newkey.service)" '^\[X-Unitsmith\]' "newkey.service is a failure stub"
	assert_fails systemctl start newkey.service
	assert_contains "$(journalctl -b -u newkey.service --no-pager)" "$needs" "newkey.service's journal"
	rc=0
	out=$(unitsmith doctor newkey.service 2>&1) || rc=$?
	assert_eq "$rc" 1 "doctor exit status"
	assert_contains "$out" "newkey.container:8" "doctor newkey.service"
	assert_contains "$out" "$needs" "doctor newkey.service"
	rc=0
	out=$(unitsmith lint /etc/unitsmith 2>&1) || rc=$?
	assert_eq "$rc" 1 "lint exit status"
	assert_contains "$out" "$needs" "lint /etc/unitsmith"
else
	assert_file_matches "$(generated_unit_path newkey.service)" '^ExecStart=.* --health-log-destination /tmp ' "newkey.service runs podman with the flag"
	assert_succeeds systemctl start newkey.service
	assert_eq "$(unit_prop newkey.service ActiveState)" active "newkey.service ActiveState"
	systemctl stop newkey.service
fi

step "a key Quadlet added after 4.3 whose flag 4.3 has runs; on a volume and a network"
assert_succeeds systemctl start later.service
assert_eq "$(unit_prop later.service ActiveState)" active "later.service ActiveState"
assert_eq "$(podman exec e2e-later hostname)" e2e-later-host "hostname in the container (HostName=)"
assert_eq "$(podman exec e2e-later pwd)" /shelf "working directory in the container (WorkingDir=)"
assert_eq "$(podman exec e2e-later df -k /dev/shm | awk 'NR == 2 { print $2 }')" 32768 "/dev/shm in the container, KiB (ShmSize=)"
assert_contains "$(podman inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' e2e-later)" systemd-lan "networks of e2e-later"

step "volume and network creation is idempotent (without --ignore before 4.4)"
if at_least "$here" 4.4.0; then how=--ignore; else how=exists; fi
assert_file_matches "$(generated_unit_path shelf-volume.service)" "^ExecStart=.*volume.*$how" "shelf-volume.service creates with '$how'"
assert_file_matches "$(generated_unit_path lan-network.service)" "^ExecStart=.*network.*$how" "lan-network.service creates with '$how'"
for i in 1 2; do
	assert_succeeds systemctl restart shelf-volume.service lan-network.service
done
assert_eq "$(unit_prop shelf-volume.service ActiveState)/$(unit_prop lan-network.service ActiveState)" active/active "volume and network units after two restarts"
assert_eq "$(podman volume ls --format '{{.Name}}' | grep -c '^systemd-shelf$' || true)" 1 "volumes named systemd-shelf"
assert_eq "$(podman network ls --format '{{.Name}}' | grep -c '^systemd-lan$' || true)" 1 "networks named systemd-lan"
systemctl stop later.service

step "the table of flags agrees with this podman's --help"
# requirements.txt: "flag COMMAND [FLAG] FIRST-RELEASE". Hidden flags (not in --help) and
# values (FLAG=TOKEN: a value in a flag's text) are not looked at here.
checked=0
while read -r _ command flag first; do
	if [ -z "$first" ]; then first=$flag flag=; fi
	case $flag in *=* | --service-container | --service-exit-code-propagation) continue ;; esac
	if [ "$command" = podman ]; then words=(); else read -ra words <<<"${command/-/ }"; fi
	expected=absent
	if [ "$first" != - ] && at_least "$here" "$first"; then expected=present; fi
	# An unknown command prints podman's own help (and exits 0 with --help): the usage line
	# names the command only when podman has it.
	help=$(podman "${words[@]}" --help 2>&1) || true
	actual=absent
	if grep -qE "^ *podman${words[*]:+ }${words[*]}( |\$)" <<<"$help" &&
		{ [ -z "$flag" ] || grep -qE -- "(^|[ ,])$flag( |=|,|\$)" <<<"$help"; }; then
		actual=present
	fi
	checked=$((checked + 1))
	if [ "$actual" != "$expected" ]; then
		check_failed "podman ${words[*]} ${flag:-(the command)}: $actual in podman $here's --help, the table says from $first"
	fi
done < <(grep '^flag ' /root/requirements.txt)
ok "$checked commands and flags of requirements.txt checked against podman $here's --help"

step "a changed binary is unknown until the package's trigger records it again"
touch -d 2001-01-01 /usr/bin/podman
out=$(unitsmith podman-version 2>&1) || true
assert_contains "$out" "changed since" "unitsmith podman-version after the binary changed"
systemctl daemon-reload
if [ -n "$old" ]; then
	# Assumed 5.8.2: newkey.service is a podman unit again (it would fail at start).
	assert_file_matches "$(generated_unit_path newkey.service)" '--health-log-destination' "newkey.service while the record is stale"
fi
# What dpkg does when a package changes /usr/bin/podman (DEBIAN/triggers of unitsmith).
assert_succeeds dpkg-trigger --no-await /usr/bin/podman
assert_succeeds dpkg --triggers-only --pending
assert_eq "$(unitsmith podman-version --json | grep -o '"source":"[a-z]*"')" '"source":"record"' "after the trigger"
if [ -n "$old" ]; then
	# The postinst reloaded: the stub again.
	assert_file_matches "$(generated_unit_path newkey.service)" '^\[X-Unitsmith\]' "newkey.service after the trigger"
fi

step "unitsmith reload records a stale record before its daemon-reload"
touch -d 2002-02-02 /usr/bin/podman
rc=0
out=$(unitsmith reload 2>&1) || rc=$?
echo "$out" | sed 's/^/# reload: /'
assert_contains "$out" "recorded Podman $here" "reload output"
assert_eq "$(unitsmith podman-version --json | grep -o '"source":"[a-z]*"')" '"source":"record"' "after reload"
if [ -n "$old" ]; then
	assert_file_matches "$(generated_unit_path newkey.service)" '^\[X-Unitsmith\]' "newkey.service after reload"
fi
