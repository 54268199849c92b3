#!/bin/bash
# Every unit our generator wrote at boot passes `systemd-analyze verify` of the guest's own
# systemd (252 on bookworm, 262 on testing), failure stubs included: no warning, no error, for
# any of them. Podman's own generator is masked in the seed (as `unitsmith takeover` leaves it).
# Inputs: 30-verify.d/root/etc/containers/systemd/ (containers using common keys, a template
# and an instance, a volume, a network, an invalid file).
# e2e-timeout: 120
# e2e-guests: bookworm testing
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

# Input file -> the unit Quadlet names for it.
declare -A EXPECTED=(
	[web.container]=web.service
	[db.container]=db.service
	[app@.container]=app@.service
	[app@one.container]=app@one.service
	[bad.container]=bad.service
	[data.volume]=data-volume.service
	[net.network]=net-network.service
)

# verify checks that every Exec*= binary exists. Podman is absent from the bookworm guest, so
# without this every unit would be reported for /usr/bin/podman alone; the stand-in (NOT podman)
# is a real executable at that path, which removes exactly that one complaint and no other. The
# testing guest has the real Podman.
[ -x /usr/bin/podman ] || install_podman_standin

step "a unit was generated for every input file"
for input in $(printf '%s\n' "${!EXPECTED[@]}" | sort); do
	unit=${EXPECTED[$input]}
	if path=$(generated_unit_path "$unit"); then
		ok "$input -> $path"
	else
		check_failed "$input: no $unit in ${GENERATOR_DIRS[*]}"
	fi
done

step "systemd-analyze verify over every unit the generator wrote"
mapfile -t files < <(unitsmith_generated_units | sort)
[ ${#files[@]} -gt 0 ] || fail "found no unit written by unitsmith-generator in ${GENERATOR_DIRS[*]}"
# An instance may be a symlink to its template rather than a file of its own: verify it too.
for input in "${!EXPECTED[@]}"; do
	case ${EXPECTED[$input]} in
	*@?*.service) path=$(generated_unit_path "${EXPECTED[$input]}") && files+=("$path") ;;
	esac
done
mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -u)
note "verifying: ${files[*]}"

# By path: verify runs its own manager whose unit path lacks the generator directories (by
# name it would report "not found"), and it verifies a template file as instance "i".
# SYSTEMD_UNIT_PATH (trailing ':' = then the defaults) lets the units' dependencies on one
# another (web.service -> data-volume.service, net-network.service) resolve as at boot.
verify_rc=0
report=$(SYSTEMD_UNIT_PATH="$(IFS=:; echo "${GENERATOR_DIRS[*]}"):" \
	systemd-analyze verify "${files[@]}" 2>&1) || verify_rc=$?
assert_eq "$verify_rc" 0 "systemd-analyze verify exit status"
if [ -z "$report" ]; then
	ok "systemd-analyze verify reported nothing"
else
	check_failed "systemd-analyze verify reported:"$'\n'"$(printf '%s\n' "$report" | head -n 40)"
fi
