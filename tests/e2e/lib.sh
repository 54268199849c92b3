# tests/e2e/lib.sh: sourced by every scenario, INSIDE the guest (as /e2e/lib.sh).
#
# Two kinds of failure, so that one run reports everything that is wrong:
#   - checks (assert_*) record a failure, print it and let the scenario go on;
#   - an unexpected error (a command failing outside a check, under set -e) or `fail` stops
#     the scenario at once, naming the command and line.
# At exit the scenario's status is non-zero if any check failed. `skip` exits 77 (SKIP).
# Call checks in the scenario's own shell, not inside $(...) or a pipeline: a subshell cannot
# count failures for the scenario.
#
# Output is line oriented: "ok - ...", "FAIL - ...", "--- step", "# note". run.sh shows the
# last lines of it when a scenario fails.

set -eEuo pipefail
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0 LC_ALL=C.UTF-8

E2E_FAILURES=0

_e2e_on_error() { # STATUS LINE COMMAND
	# With errtrace the trap is also run in $(...) subshells, whose output is being captured:
	# report only in the scenario's own shell, where the failure ends the scenario.
	[ "$BASH_SUBSHELL" = 0 ] || return 0
	echo "FAIL - unexpected error: '$3' exited $1 (line $2 of ${BASH_SOURCE[1]:-?})"
}
_e2e_on_exit() {
	local rc=$?
	trap - EXIT
	if [ "$rc" = 0 ] && [ "$E2E_FAILURES" -gt 0 ]; then rc=1; fi
	case $rc in
	0) echo "# result: all checks passed" ;;
	77) ;;
	*) echo "# result: FAILED ($E2E_FAILURES failed checks, exit $rc)" ;;
	esac
	exit "$rc"
}
# SIGTERM: the guest is being shut down under the scenario (run.sh's time limit ran out).
_e2e_on_term() {
	echo "FAIL - stopped by SIGTERM: the guest is shutting down (time limit reached?)"
	E2E_FAILURES=$((E2E_FAILURES + 1))
	exit 143
}
trap '_e2e_on_error $? $LINENO "$BASH_COMMAND"' ERR
trap _e2e_on_exit EXIT
trap _e2e_on_term TERM

# --- reporting -------------------------------------------------------------------------------

step() { echo "--- $*"; }
note() { echo "# $*"; }
ok() { echo "ok - $*"; }
# A failed check: recorded, the scenario goes on.
check_failed() {
	E2E_FAILURES=$((E2E_FAILURES + 1))
	echo "FAIL - $*"
}
# A failure after which the scenario makes no sense: stop now.
fail() {
	E2E_FAILURES=$((E2E_FAILURES + 1))
	echo "FAIL - $*"
	exit 1
}
# This scenario cannot run here; run.sh reports SKIP with the reason (and fails CI for it).
skip() {
	echo "SKIP: $*"
	exit 77
}

# --- checks ----------------------------------------------------------------------------------

assert_eq() { # ACTUAL EXPECTED [WHAT]
	if [ "$1" = "$2" ]; then ok "${3:-value} = '$2'"; else check_failed "${3:-value}: expected '$2', got '$1'"; fi
}

assert_contains() { # HAYSTACK NEEDLE [WHAT]  (fixed string)
	case $1 in
	*"$2"*) ok "${3:-text} contains '$2'" ;;
	*) check_failed "${3:-text} does not contain '$2' (it is: '$(printf '%.300s' "$1")')" ;;
	esac
}

assert_not_contains() { # HAYSTACK NEEDLE [WHAT]
	case $1 in
	*"$2"*) check_failed "${3:-text} contains '$2'" ;;
	*) ok "${3:-text} does not contain '$2'" ;;
	esac
}

assert_succeeds() { # CMD...  (its output is shown only when it fails)
	local output rc=0
	output=$("$@" 2>&1) || rc=$?
	if [ "$rc" = 0 ]; then ok "succeeds: $*"; else check_failed "exit $rc: $*"$'\n'"$output"; fi
}

assert_fails() { # CMD...
	local rc=0
	"$@" >/dev/null 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then ok "fails (exit $rc) as expected: $*"; else check_failed "succeeded, expected failure: $*"; fi
}

assert_file_matches() { # FILE REGEX [WHAT]  (grep -E, any line)
	if [ ! -e "$1" ]; then
		check_failed "${3:-$1}: file $1 does not exist"
	elif grep -Eq -- "$2" "$1"; then
		ok "${3:-$1} has a line matching /$2/"
	else
		check_failed "${3:-$1} has no line matching /$2/"
	fi
}

# --- waiting ---------------------------------------------------------------------------------

# wait_for [--timeout SECONDS] [--interval SECONDS] CMD...   (or: wait_for CMD... --timeout N)
# Runs CMD until it succeeds. Returns 1 and says so when the time is up; a bare call therefore
# stops the scenario (set -e), `wait_for ... || check_failed ...` lets it go on.
wait_for() {
	local timeout=30 interval=0.2
	while [ $# -gt 0 ]; do
		case $1 in
		--timeout) timeout=$2 && shift 2 ;;
		--interval) interval=$2 && shift 2 ;;
		*) break ;;
		esac
	done
	if [ $# -ge 3 ] && [ "${*: -2:1}" = --timeout ]; then
		timeout=${*: -1}
		set -- "${@:1:$#-2}"
	fi
	local end=$(($(date +%s) + timeout))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "# wait_for: gave up after ${timeout}s: $*"
			return 1
		fi
		sleep "$interval"
	done
}

# Wall-clock seconds with millisecond precision, for timing steps: t0=$(now_s).
now_s() { date +%s.%3N; }
# "1.234" from two now_s values.
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- systemd ---------------------------------------------------------------------------------

unit_prop() { # UNIT PROPERTY  -> value (systemctl show -P)
	systemctl show -P "$2" "$1"
}

# Values of KEY in [SECTION] of a unit file, one a line (no drop-ins, no line continuations).
unit_file_values() { # FILE SECTION KEY
	awk -v sec="[$2]" -v key="$3" '
		/^[ \t]*[#;]/ { next }
		/^[ \t]*\[/ { cur = $0; gsub(/^[ \t]+|[ \t]+$/, "", cur); next }
		cur == sec && index($0, "=") {
			k = substr($0, 1, index($0, "=") - 1); gsub(/[ \t]+$/, "", k)
			if (k == key) { v = substr($0, index($0, "=") + 1); sub(/^[ \t]+/, "", v); print v }
		}' "$1"
}

# The directories systemd hands to generators; ours writes into one of them.
GENERATOR_DIRS=(/run/systemd/generator.early /run/systemd/generator /run/systemd/generator.late)

# Units written by the unitsmith generator (regular files, not symlinks): recognised by a
# SourcePath= under a Quadlet directory or by our failure-stub section. Prints full paths.
unitsmith_generated_units() {
	local d
	for d in "${GENERATOR_DIRS[@]}"; do
		[ -d "$d" ] || continue
		find "$d" -maxdepth 1 -type f -print0 |
			xargs -0 -r grep -lE '^SourcePath=/(etc|usr/share|run)/containers/systemd/|^\[X-Unitsmith\]' ||
			true # grep: no match in some file
	done
}

# The generator dir path of UNIT if a generator wrote it (file or symlink), else nothing.
generated_unit_path() { # UNIT
	local d
	for d in "${GENERATOR_DIRS[@]}"; do
		if [ -e "$d/$1" ] || [ -L "$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	return 1
}

# Put the podman stand-in (see /e2e/podman-standin: NOT podman) at /usr/bin/podman of this
# guest, so the units our generator writes can start and stop.
install_podman_standin() {
	[ ! -e /usr/bin/podman ] || fail "/usr/bin/podman exists: this guest has a real podman?"
	install -m 0755 /e2e/podman-standin /usr/bin/podman
	note "installed the podman TEST STAND-IN at /usr/bin/podman (not podman)"
}

# --- the real Podman (testing guest) ---------------------------------------------------------

# The image every scenario's containers run: localhost/bb:e2e, a busybox made offline at rootfs
# build time (guests/make-images.py). Image storage is a tmpfs (guests/testing.recipe), so each
# boot imports it once (~1 s). Also used by Containerfiles (FROM localhost/bb:e2e).
E2E_IMAGE=localhost/bb:e2e
E2E_OCI_ARCHIVE=/usr/share/e2e/images/busybox.oci.tar
podman_image_ready() {
	podman --version 2>/dev/null | grep -q '^podman version' ||
		fail "podman_image_ready: no real podman in the $E2E_GUEST guest"
	podman image exists "$E2E_IMAGE" && return 0
	podman import --quiet /usr/share/e2e/images/busybox.tar "$E2E_IMAGE" >/dev/null
	note "imported $E2E_IMAGE from /usr/share/e2e/images/busybox.tar"
}

# A container's ID, or "none" when it does not exist.
container_id() { podman inspect --format '{{.Id}}' "$1" 2>/dev/null || echo none; }

# "NAME ID" for each container in the scenario's CONTAINERS array: taken before a change, then
# given to assert_only_replaced.
container_ids() {
	local c
	for c in "${CONTAINERS[@]}"; do echo "$c $(container_id "$c")"; done
}

# After a change: each container named is a new one (its unit was restarted), every other
# container of CONTAINERS is the one of BEFORE (its unit was left alone).
assert_only_replaced() { # BEFORE [CONTAINER...]
	local before=$1 c id now
	shift
	local -A old=()
	while read -r c id; do old[$c]=$id; done <<<"$before"
	for c in "${CONTAINERS[@]}"; do
		now=$(container_id "$c")
		if [[ " $* " == *" $c "* ]]; then
			[ "$now" != "${old[$c]}" ] && ok "$c: new container" || check_failed "$c was not restarted"
		else
			assert_eq "$now" "${old[$c]}" "$c container (untouched)"
		fi
	done
}

# --- user managers -----------------------------------------------------------------------------

# A user (uid 1000, /home/NAME) whose own service manager runs (lingering), as systemd starts one
# on a host at login. Rootless Podman keeps images under ~/.local/share/containers: a tmpfs there,
# for the reason the system's store is one (overlayfs does not stack on the guest's root).
# Files the manager's generators must see at its start are written before, with user_file.
E2E_USER=alice
E2E_UID=1000
make_user() { # NAME
	useradd --create-home --uid "$E2E_UID" --shell /bin/bash "$1"
	install -d -o "$1" -g "$1" -m 0700 "/home/$1/.local" "/home/$1/.local/share" "/home/$1/.local/share/containers"
	mount -t tmpfs -o "mode=0700,uid=$E2E_UID,gid=$E2E_UID" tmpfs "/home/$1/.local/share/containers"
}
start_user_manager() { # NAME
	loginctl enable-linger "$1"
	wait_for --timeout 30 test -S "/run/user/$E2E_UID/systemd/private" || fail "the manager of $1 did not start"
	wait_for --timeout 30 as_user systemctl --user is-system-running --wait || true
}
# Run a command as the user, in the environment a login session gives it.
as_user() { # CMD...
	(cd / && runuser -u "$E2E_USER" -- env XDG_RUNTIME_DIR="/run/user/$E2E_UID" HOME="/home/$E2E_USER" \
		PATH=/usr/local/bin:/usr/bin:/bin "$@")
}
# Write a file of the user's (its directories made as the user's), content from stdin.
user_file() { # PATH [MODE]
	local dir
	dir=$(dirname "$1")
	runuser -u "$E2E_USER" -- mkdir -p "$dir"
	runuser -u "$E2E_USER" -- sh -c 'cat >"$1" && chmod "$2" "$1"' - "$1" "${2:-0644}"
}
user_unit_prop() { as_user systemctl --user show -P "$2" "$1"; } # UNIT PROPERTY
