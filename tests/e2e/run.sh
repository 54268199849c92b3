#!/usr/bin/env bash
# unitsmith end-to-end tests: every scenario boots a fresh Debian guest with a real systemd as
# PID 1 (systemd-nspawn), with unitsmith installed from its .deb (`make deb`, then `dpkg -i` in
# the guest's root), and runs tests/e2e/scenarios/NN-name.sh inside it after multi-user.target.
# Guests (tests/e2e/guests/*.recipe): bookworm (Debian 12, systemd 252), testing (systemd
# 262, the real Podman 5.8 and cloud-init 26) and trixie (Debian 13: systemd 257, Podman 5.4.2,
# cloud-init 25.1); a scenario names its own (# e2e-guests:).
# See README.md beside this.
#
#   tests/e2e/run.sh                 all scenarios, each on each of its guests, in order
#   tests/e2e/run.sh 10 20-seed-race only these (a number prefix or a full name)...
#   tests/e2e/run.sh 10@testing      ...on one of its guests
#
# Knobs (environment):
#   E2E_TIMEOUT=SECONDS          default time limit per scenario (a scenario may set its own)
#   E2E_GUESTS="bookworm testing" only the runs on these guests
#   E2E_GENERATOR_OVERRIDE=PATH  install PATH instead of the packaged generator (e.g. /bin/true,
#                                to check that the scenarios really fail without it)
#   E2E_DEB=FILE                 install this .deb instead of building one with `make deb`
#   E2E_SYSEXT=FILE              the system extension image for "# e2e-sysext: yes" scenarios,
#                                instead of building one with `make sysext`
#   E2E_KEEP=1                   keep each guest's disk (overlay upper dir) for inspection
#   E2E_ALLOW_SKIP=1             a skipped scenario does not make the run fail
#   E2E_JOBS=N                   runs of "# e2e-parallel: yes" scenarios at once (default 2;
#                                1: every run alone)
#   E2E_CACHE_DIR=DIR            rootfs cache (default /var/cache/unitsmith-e2e)
#   E2E_MIRROR=URL               Debian mirror for debootstrap (default: this machine's apt's)
set -eEuo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E_DIR/../.." && pwd)
OUT_DIR=$E2E_DIR/.out
CACHE_BASE=${E2E_CACHE_DIR:-/var/cache/unitsmith-e2e}
GUESTS_DIR=$E2E_DIR/guests
DEFAULT_GUEST=bookworm
DEFAULT_TIMEOUT=${E2E_TIMEOUT:-300}
# systemd-container: systemd-nspawn; debootstrap: the guest roots; dpkg-dev, binutils: `make deb`
# (dpkg-shlibdeps, strip); python3: the testing guest's images. zstd is not needed by the
# directory cache; it is installed for tar --zstd when handling a cache by hand (see README).
HOST_PACKAGES=(systemd-container debootstrap zstd dpkg-dev binutils python3)

say() { printf '%s\n' "$*"; }
die() { printf 'e2e: %s\n' "$*" >&2; exit 2; }
# A bug or a broken host, not a scenario failure: say where, then stop (set -e). Only in this
# shell: with errtrace the trap also runs in $(...) subshells, whose output is captured.
on_error() { # STATUS LINE COMMAND
	[ "$BASH_SUBSHELL" = 0 ] || return 0
	[ "$1" != 2 ] || return 0 # 2: die() in a subshell, which has said why already
	printf 'e2e: internal error: "%s" exited %s (run.sh line %s)\n' "$3" "$1" "$2" >&2
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR
now_ms() { date +%s%3N; }
# 1234 -> "1.2s"
fmt_ms() { printf '%d.%ds' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# ---------------------------------------------------------------------------------------------
# Host preparation
# ---------------------------------------------------------------------------------------------

require_root() {
	# nspawn, overlay mounts and cgroup creation all need root. Not a skip: a run that cannot
	# test anything must not look green.
	[ "$(id -u)" = 0 ] || die "must run as root (systemd-nspawn, mount, cgroups)"
}

# apt only when something is missing, so a warm machine never waits for `apt-get update`.
install_host_packages() {
	local missing=() p
	for p in "${HOST_PACKAGES[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "e2e: installing host packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# The mirror this machine's apt already uses: it is reachable from here; others may not be.
debian_mirror() {
	local m=${E2E_MIRROR:-}
	if [ -z "$m" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
		m=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
	fi
	[ -n "$m" ] || die "no Debian mirror found in apt's configuration; set E2E_MIRROR"
	say "$m"
}

# Sets ROOTFS[GUEST] to a cached root of the guest's recipe, building it when missing.
# The cache key is the hash of the recipe and the files beside it that recipes use; the build
# goes to a temporary directory renamed into place only when complete, so an interrupted build
# never leaves a half cache.
prepare_rootfs() { # GUEST
	local guest=$1 recipe=$GUESTS_DIR/$1.recipe key dir tmp t0
	[ -f "$recipe" ] || die "no guest '$guest' ($recipe)"
	key=$(cat "$recipe" $(find "$GUESTS_DIR" -type f ! -name '*.recipe' | sort) | sha256sum | cut -c1-16)
	key=$guest-$key
	dir=$CACHE_BASE/$key
	ROOTFS[$guest]=$dir/rootfs
	mkdir -p "$CACHE_BASE"
	# One builder at a time; a second run.sh waits and then finds the finished cache.
	exec 8>"$CACHE_BASE/.lock"
	flock 8
	if [ ! -d "$dir/rootfs" ]; then
		t0=$(now_ms)
		rm -rf "$CACHE_BASE"/.build-* # leftovers of interrupted builds
		tmp=$(mktemp -d "$CACHE_BASE/.build-$key.XXXXXX")
		say "e2e: building guest rootfs $key (debootstrap, once per recipe change)..."
		build_rootfs "$recipe" "$tmp/rootfs" >"$tmp/build.log" 2>&1 ||
			{ tail -n 30 "$tmp/build.log" >&2; die "rootfs build failed (log: $tmp/build.log)"; }
		cp "$recipe" "$tmp/recipe"
		mv -T "$tmp" "$dir"
		say "e2e: rootfs built in $(fmt_ms $(($(now_ms) - t0))): $dir"
	fi
	exec 8>&- # unlock; and no guest should inherit the lock file
	touch "$dir" # marks it as in use for prune_rootfs_cache
	KEEP_CACHES+=("$key")
}

# Runs in a subshell: the recipe's variables and function must not leak into this script.
build_rootfs() ( # RECIPE ROOT
	local recipe=$1 root=$2
	E2E_DEBOOTSTRAP_SCRIPT=
	# shellcheck source=guests/bookworm.recipe
	. "$recipe"
	debootstrap --variant=minbase --include="$E2E_PACKAGES" "$E2E_SUITE" "$root" "$(debian_mirror)" \
		${E2E_DEBOOTSTRAP_SCRIPT:+"$E2E_DEBOOTSTRAP_SCRIPT"}
	rootfs_customize "$root"
)

# The extra systemd-nspawn options of a guest, one a line.
guest_nspawn_args() ( # GUEST
	E2E_NSPAWN_ARGS=()
	# shellcheck source=guests/bookworm.recipe
	. "$GUESTS_DIR/$1.recipe"
	[ ${#E2E_NSPAWN_ARGS[@]} -eq 0 ] || printf '%s\n' "${E2E_NSPAWN_ARGS[@]}"
)

# Old recipes' caches: remove those unused for a week (another checkout may still use one).
prune_rootfs_cache() {
	local d k keep
	for d in "$CACHE_BASE"/*/; do
		d=${d%/}
		keep=
		for k in "${KEEP_CACHES[@]}"; do [ "$(basename "$d")" = "$k" ] && keep=1; done
		[ -n "$keep" ] && continue
		[ -n "$(find "$d" -maxdepth 0 -mtime +7 2>/dev/null)" ] && rm -rf "$d"
	done
	return 0
}

# Sets DEB to the package every guest installs: `make deb` (its last line is the path).
build_deb() {
	if [ -n "${E2E_DEB:-}" ]; then
		[ -f "$E2E_DEB" ] || die "E2E_DEB=$E2E_DEB: no such file"
		DEB=$E2E_DEB
		return
	fi
	make -C "$REPO" --no-print-directory deb >"$OUT_DIR/install.log" 2>&1 ||
		{ tail -n 30 "$OUT_DIR/install.log" >&2; die "make deb failed (log: $OUT_DIR/install.log)"; }
	DEB=$(tail -n 1 "$OUT_DIR/install.log")
	[ -f "$DEB" ] || die "make deb did not end with the path of a package (log: $OUT_DIR/install.log)"
}

# Sets SYSEXT to the system extension image (`make sysext`; its last line is the path), for the
# scenarios that declare "# e2e-sysext: yes" (their setup.sh gets it as E2E_SYSEXT_FILE).
build_sysext() {
	if [ -n "${E2E_SYSEXT:-}" ]; then
		[ -f "$E2E_SYSEXT" ] || die "E2E_SYSEXT=$E2E_SYSEXT: no such file"
		SYSEXT=$E2E_SYSEXT
		return
	fi
	make -C "$REPO" --no-print-directory sysext >"$OUT_DIR/sysext.log" 2>&1 ||
		{ tail -n 30 "$OUT_DIR/sysext.log" >&2; die "make sysext failed (log: $OUT_DIR/sysext.log)"; }
	SYSEXT=$(tail -n 1 "$OUT_DIR/sysext.log")
	[ -f "$SYSEXT" ] || die "make sysext did not end with the path of an image (log: $OUT_DIR/sysext.log)"
}

# Sets PKG_LAYER[GUEST]: the guest's root as `dpkg -i` of our package leaves it, as an overlay
# layer of its own (once per run and guest, ~1 s), so that every boot of every scenario starts
# with unitsmith installed the way users install it, and the cached root is never modified.
make_package_layer() { # GUEST
	local guest=$1 layer=$WORK/pkg/$1 log=$OUT_DIR/install-$1.log
	mkdir -p "$layer/upper" "$layer/work" "$layer/root"
	unshare --mount --propagation private -- "$E2E_DIR/host/install-deb.sh" \
		"${ROOTFS[$guest]}" "$layer" "$DEB" "${E2E_GENERATOR_OVERRIDE:-}" >"$log" 2>&1 ||
		{ tail -n 30 "$log" >&2; die "installing $DEB into the $guest guest failed (log: $log)"; }
	PKG_LAYER[$guest]=$layer/upper
}

# Sets IMAGE_LAYER[GUEST]: a fleet image built over the guest's root with
# examples/image/build-image.sh as it is (host/build-image.sh), for "# e2e-package: image".
make_image_layer() { # GUEST
	local guest=$1 layer=$WORK/image/$1 log=$OUT_DIR/image-$1.log
	unshare --mount --propagation private -- "$E2E_DIR/host/build-image.sh" \
		"${ROOTFS[$guest]}" "$layer" "$DEB" "$REPO" >"$log" 2>&1 ||
		{ tail -n 30 "$log" >&2; die "building the example image over the $guest guest failed (log: $log)"; }
	IMAGE_LAYER[$guest]=$layer/upper
}

# What a run installs: "dpkg" (the package layer; the default), "none" or "image".
scenario_package() { # FILE
	local v
	v=$(sed -n '1,30s/^# e2e-package: *\([a-z]*\) *$/\1/p' "$1" | head -n 1)
	say "${v:-dpkg}"
}

# ---------------------------------------------------------------------------------------------
# cgroups. A systemd started against this machine's own cgroup tree would move every host
# process into its /init.scope and break the machine. So each guest is started from a process
# that first enters a fresh cgroup, in EVERY mounted hierarchy (this host is hybrid v1+v2);
# afterwards everything left in it is killed by PID and the cgroup removed.
# ---------------------------------------------------------------------------------------------

cg_hierarchies() { findmnt -rn -t cgroup,cgroup2 -o TARGET; }

cg_enter() { # NAME: move the calling (sub)shell into a new cgroup NAME
	local h
	for h in $(cg_hierarchies); do
		mkdir -p "$h/$1"
		# a v1 cpuset group accepts no process until it has CPUs and memory nodes
		if [ -f "$h/cpuset.cpus" ] && [ ! -f "$h/cgroup.controllers" ]; then
			cat "$h/cpuset.cpus" >"$h/$1/cpuset.cpus"
			cat "$h/cpuset.mems" >"$h/$1/cpuset.mems"
		fi
		echo "$BASHPID" >"$h/$1/cgroup.procs"
	done
}

cg_pids() { # NAME: every PID still in cgroup NAME or below, in any hierarchy
	local h
	for h in $(cg_hierarchies); do
		if [ -d "$h/$1" ]; then find "$h/$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
	done | sort -un
}

cg_destroy() { # NAME: kill what is left (only ever the guest we started), then remove it
	local pids
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(cg_pids "$1")
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.2
	done
	local h
	for h in $(cg_hierarchies); do
		if [ -d "$h/$1" ]; then find "$h/$1" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
	done
}

# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------

# A scenario declares its needs in header comments, e.g. "# e2e-timeout: 900".
scenario_header() { # FILE KEY DEFAULT
	local v
	v=$(sed -n "1,30s/^# e2e-$2: *\([0-9][0-9]*\) *\$/\1/p" "$1" | head -n 1)
	say "${v:-$3}"
}

# "# e2e-parallel: yes": the scenario mostly waits (cloud-init's stages, apt, a reboot) and
# checks no timing a busy neighbour could stretch: its runs may go side by side.
scenario_parallel() { # FILE
	sed -n '1,30s/^# e2e-parallel: *yes *$/yes/p' "$1" | head -n 1
}

# The guests a scenario runs on ("# e2e-guests: bookworm testing"; default: bookworm).
scenario_guests() { # FILE
	local v
	v=$(sed -n '1,30s/^# e2e-guests: *\([a-z0-9 ]*\)$/\1/p' "$1" | head -n 1)
	say "${v:-$DEFAULT_GUEST}" | tr -s ' ' '\n' | grep .
}

# The runs to make, one "FILE@GUEST" a line. Arguments select scenarios by name or number
# prefix ("10" = "10-generator-boot"), optionally on one guest ("10@testing"); E2E_GUESTS
# keeps only the runs on the guests it lists.
select_runs() {
	local all=("$E2E_DIR"/scenarios/[0-9]*.sh) arg want_guest s g found
	[ $# -gt 0 ] || set -- "${all[@]}"
	for arg in "$@"; do
		want_guest=
		case $arg in *@*) want_guest=${arg##*@} arg=${arg%@*} ;; esac
		arg=$(basename "${arg%.sh}")
		found=
		for s in "${all[@]}"; do
			case $(basename "$s" .sh) in "$arg" | "$arg"-*) ;; *) continue ;; esac
			for g in $(scenario_guests "$s"); do
				[ -z "$want_guest" ] || [ "$g" = "$want_guest" ] || continue
				[ -z "${E2E_GUESTS:-}" ] || [[ " $E2E_GUESTS " == *" $g "* ]] || continue
				[ -f "$GUESTS_DIR/$g.recipe" ] || die "$(basename "$s"): no guest '$g' (tests/e2e/guests/)"
				say "$s@$g"
				found=1
			done
		done
		[ -n "$found" ] || [ -n "${E2E_GUESTS:-}" ] ||
			die "no scenario matches '$arg${want_guest:+@$want_guest}' (see tests/e2e/scenarios/)"
	done
}

# The guest's /e2e: the harness unit and script, lib.sh, the scenario and its facts.
# A read-only overlay layer, so all of it is in place before the guest's systemd starts.
make_harness_layer() { # DIR SCENARIO_FILE BOOTS GUEST
	local layer=$1 name
	name=$(basename "$2" .sh)
	install -D -m 0644 "$E2E_DIR/guest/e2e-harness.service" "$layer/etc/systemd/system/e2e-harness.service"
	install -D -m 0755 "$E2E_DIR/guest/run-scenario.sh" "$layer/e2e/run-scenario.sh"
	install -D -m 0755 "$E2E_DIR/guest/podman-standin" "$layer/e2e/podman-standin"
	install -D -m 0755 "$E2E_DIR/guest/compare-units" "$layer/e2e/compare-units"
	install -D -m 0644 "$E2E_DIR/lib.sh" "$layer/e2e/lib.sh"
	install -D -m 0755 "$2" "$layer/e2e/scenario.sh"
	say "$name" >"$layer/e2e/scenario-name"
	say "$3" >"$layer/e2e/boots"
	say "$4" >"$layer/e2e/guest"
	mkdir -p "$layer/e2e/out" # mount point for the host's result directory
}

# Files the scenario wants present at boot: a copy of NN-name.d/root/, then NN-name.d/setup.sh
# (run here, on the host, with the copy as $1) for anything better generated than committed.
make_seed_layer() { # DIR SCENARIO_FILE LOG
	local layer=$1 d=${2%.sh}.d
	mkdir -p "$layer"
	if [ -d "$d/root" ]; then cp -a "$d/root/." "$layer/" || return 1; fi
	# E2E_DEB_FILE: the package, for scenarios that install it themselves (# e2e-package: none).
	# E2E_SYSEXT_FILE: the system extension image, for scenarios with "# e2e-sysext: yes".
	# E2E_GUEST_ROOT: the guest's cached root, to read (never to write) its own files.
	if [ -x "$d/setup.sh" ]; then
		E2E_DEB_FILE=$DEB E2E_SYSEXT_FILE=${SYSEXT:-} E2E_GUEST_ROOT=${SEED_GUEST_ROOT:-} \
			"$d/setup.sh" "$layer" >"$3" 2>&1 || return 1
	fi
}

# A machine name per guest: nspawn keeps per-machine state under /run/systemd/nspawn/, so two
# runs at once (two checkouts) must not share one. At most 64 characters, as a hostname.
machine_name() { # OUT
	local n
	n=$(basename "$1" | tr -c 'a-zA-Z0-9-\n' -)
	printf 'e2e-%s-%.40s' "$$" "$n"
}

# Boots the guest once and waits for it, at most LIMIT seconds. Returns nspawn's status
# (124 = timed out). The console goes to OUT/console.txt.
boot_once() { # STATE_DIR OUT LIMIT CGROUP GUEST PACKAGE_LAYER
	local state=$1 out=$2 limit=$3 cg=$4 guest=$5 PKG=$6 pid rc=0 extra
	mapfile -t extra < <(guest_nspawn_args "$guest")
	(
		cg_enter "$cg"
		# timeout: SIGTERM asks nspawn for a clean guest shutdown; SIGKILL 10 s later if stuck.
		exec timeout --kill-after=10 "$limit" \
			unshare --mount --propagation private -- \
			"$E2E_DIR/host/boot-guest.sh" "$state" \
			"$state/layers/seed" "$state/layers/harness" "$PKG" "${ROOTFS[$guest]}" -- \
			--machine="$(machine_name "$out")" \
			--bind="$out:/e2e/out" \
			${extra[@]+"${extra[@]}"} \
			--boot -- systemd.wants=e2e-harness.service
	) </dev/null >>"$out/console.txt" 2>&1 &
	pid=$!
	GUEST_PID=$pid GUEST_CG=$cg
	wait "$pid" || rc=$?
	cg_destroy "$cg"
	GUEST_PID='' GUEST_CG=''
	return "$rc"
}

# Ctrl-C or a CI cancel: a background job ignores SIGINT, so stop the running guest here
# (timeout forwards the TERM to nspawn, which shuts the guest down), then clean its cgroup.
# Runs going side by side (run_side_by_side) are subshells that do the same for their guest.
on_interrupt() {
	trap - INT TERM
	local p
	for p in ${SIDE_PIDS[@]+"${SIDE_PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
	for p in ${SIDE_PIDS[@]+"${SIDE_PIDS[@]}"}; do timeout 25 tail --pid="$p" -f /dev/null || true; done
	if [ -n "${GUEST_PID:-}" ]; then
		say "e2e: interrupted, stopping the guest"
		kill -TERM "$GUEST_PID" 2>/dev/null || true
		timeout 15 tail --pid="$GUEST_PID" -f /dev/null || true
		cg_destroy "$GUEST_CG"
	fi
	exit 130
}

# Runs one scenario; sets RESULT (PASS/FAIL/SKIP) and DETAIL.
run_scenario() { # SCENARIO_FILE@GUEST
	local file=${1%@*} guest=${1##*@} name out state timeout boots boot deadline left nspawn_rc rc pkg
	name=$(basename "$file" .sh)@$guest
	out=$OUT_DIR/$name
	rm -rf "$out"
	mkdir -p "$out"
	RESULT=PASS DETAIL=
	if [ ! -f "$file" ]; then # removed since the run started (someone editing the suite)
		RESULT=FAIL DETAIL="$file disappeared"
		return
	fi
	timeout=$(scenario_header "$file" timeout "$DEFAULT_TIMEOUT")
	# "# e2e-package: none": the guest without unitsmith (the scenario installs it, as a
	# cloud-init recipe does): an empty layer stands where the package layer would be.
	# "image": the example fleet image built over the guest (make_image_layer).
	case $(scenario_package "$file") in
	none)
		pkg=$WORK/empty-layer
		mkdir -p "$pkg"
		;;
	image) pkg=${IMAGE_LAYER[$guest]} ;;
	*) pkg=${PKG_LAYER[$guest]} ;;
	esac
	boots=$(scenario_header "$file" boots 1)
	state=$WORK/guests/$name
	mkdir -p "$state/layers"
	make_harness_layer "$state/layers/harness" "$file" "$boots" "$guest"
	SEED_GUEST_ROOT=${ROOTFS[$guest]}
	if ! make_seed_layer "$state/layers/seed" "$file" "$out/setup.log"; then
		RESULT=FAIL DETAIL="preparing its files failed (see $out/setup.log)"
		boots=0
	fi

	deadline=$(($(date +%s) + timeout))
	for ((boot = 1; boot <= boots; boot++)); do
		say "$boot" >"$out/boot"
		echo "=== boot $boot of $boots" >>"$out/console.txt"
		left=$((deadline - $(date +%s)))
		nspawn_rc=124
		if [ "$left" -gt 0 ]; then
			nspawn_rc=0
			boot_once "$state" "$out" "$left" "unitsmith-e2e-$$-$name" "$guest" "$pkg" || nspawn_rc=$?
		fi
		if [ ! -f "$out/rc-boot$boot" ]; then
			RESULT=FAIL
			if [ "$nspawn_rc" = 124 ] || [ "$nspawn_rc" = 137 ]; then
				DETAIL="timed out after ${timeout}s in boot $boot"
			else
				DETAIL="no result from boot $boot (systemd-nspawn exit $nspawn_rc)"
			fi
			break
		fi
		rc=$(cat "$out/rc-boot$boot")
		case $rc in
		0) ;;
		77) RESULT=SKIP DETAIL=$(sed -n 's/^SKIP: //p' "$out/scenario.log" | tail -n 1) && break ;;
		*) RESULT=FAIL DETAIL="exit $rc in boot $boot" && break ;;
		esac
	done

	merge_boot_files "$out" journal
	merge_boot_files "$out" warnings
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		DETAIL="${DETAIL:+$DETAIL; }guest disk kept: $state/upper"
	else
		rm -rf "$state"
	fi
}

# OUT/KIND-boot1.txt, -boot2.txt... (written by the guest) -> OUT/KIND.txt, one file to open.
merge_boot_files() { # OUT KIND
	local f n
	: >"$1/$2.txt"
	for f in "$1/$2"-boot*.txt; do
		[ -f "$f" ] || continue
		n=${f##*-boot}
		echo "=== boot ${n%.txt}" >>"$1/$2.txt"
		cat "$f" >>"$1/$2.txt"
		rm -f "$f"
	done
}

# What a reader needs first when a scenario fails, without opening files.
show_failure() { # NAME
	local out=$OUT_DIR/$1
	if [ -s "$out/setup.log" ]; then
		say "    --- $out/setup.log (host-side setup.sh)"
		tail -n 20 "$out/setup.log" | sed 's/^/    /'
	fi
	if [ -s "$out/scenario.log" ]; then
		say "    --- last 40 lines of $out/scenario.log"
		tail -n 40 "$out/scenario.log" | sed 's/^/    /'
	else
		say "    --- no scenario output; last 40 lines of the guest console ($out/console.txt)"
		[ ! -f "$out/console.txt" ] || tail -n 40 "$out/console.txt" | sed 's/^/    /'
	fi
	# Warnings and errors of the whole boot, and anything our generator or helper logged
	# (generators write to the console, so look there too).
	local important
	important=$(
		{
			grep -v '^-- \|^=== boot' "$out/warnings.txt" 2>/dev/null || true
			grep -hi unitsmith "$out/journal.txt" "$out/console.txt" 2>/dev/null || true
			# the generator's own messages when run again by hand, and its exit status
			awk '/^# exit status/ { print; nextfile } !/^#/' "$out"/generator-boot*.txt 2>/dev/null || true
		} | awk '!seen[$0]++' | tail -n 40
	)
	if [ -n "$important" ]; then
		say "    --- journal: warnings and unitsmith lines (full journal: $out/journal.txt)"
		say "$important" | sed 's/^/    /'
	fi
}

# One line per run (and what a reader needs first when it failed); counts it.
report_run() { # FILE@GUEST MS  (RESULT, DETAIL: run_scenario's)
	local name
	name=$(basename "${1%@*}" .sh)@${1##*@}
	case $RESULT in
	PASS) passed=$((passed + 1)) && say "PASS $name ($(fmt_ms "$2"))" ;;
	SKIP) skipped=$((skipped + 1)) && say "SKIP $name (${DETAIL:-no reason given})" ;;
	FAIL)
		failed=$((failed + 1))
		say "FAIL $name ($(fmt_ms "$2"); $DETAIL)"
		show_failure "$name"
		;;
	esac
}

# Runs that mostly wait, E2E_JOBS at a time, each in a subshell of its own (its own guest,
# cgroup, machine name and result directory, as every run has); reported in their order.
run_side_by_side() { # FILE@GUEST...
	local k=0 s
	SIDE_PIDS=()
	for s in "$@"; do
		while [ "$(jobs -rp | wc -l)" -ge "${E2E_JOBS:-2}" ]; do wait -n || true; done
		(
			trap on_interrupt INT TERM
			SIDE_PIDS=()
			t0=$(now_ms)
			run_scenario "$s"
			printf '%s\n%s\n%s\n' "$RESULT" $(($(now_ms) - t0)) "$DETAIL" >"$WORK/side-$k"
		) </dev/null &
		SIDE_PIDS+=($!)
		k=$((k + 1))
	done
	wait || true
	SIDE_PIDS=()
	k=0
	for s in "$@"; do
		RESULT=FAIL DETAIL="internal error: no result (see the output above)" ms=0
		if [ -f "$WORK/side-$k" ]; then
			{ read -r RESULT && read -r ms && read -r DETAIL || true; } <"$WORK/side-$k"
		fi
		report_run "$s" "$ms"
		k=$((k + 1))
	done
}

main() {
	require_root
	local list runs
	list=$(select_runs "$@") # (not in <(...): an unknown name must stop the run)
	[ -n "$list" ] || die "no scenario to run (E2E_GUESTS=${E2E_GUESTS:-})"
	mapfile -t runs <<<"$list"

	mkdir -p "$OUT_DIR"
	# Two runs from one checkout would overwrite each other's results: take turns.
	exec 9>"$OUT_DIR/.lock"
	if ! flock -n 9; then
		say "e2e: another run is using $OUT_DIR; waiting for it to finish"
		flock 9
	fi
	WORK=$(mktemp -d /var/tmp/unitsmith-e2e.XXXXXX)
	# shellcheck disable=SC2064
	[ "${E2E_KEEP:-0}" = 1 ] || trap "rm -rf '$WORK'" EXIT

	GUEST_PID='' GUEST_CG=''
	trap on_interrupt INT TERM

	local s t0 suite_t0 guest guests
	passed=0 failed=0 skipped=0 SIDE_PIDS=()
	declare -gA ROOTFS=() PKG_LAYER=() IMAGE_LAYER=()
	KEEP_CACHES=()
	t0=$(now_ms)
	# What a selected scenario needs on the host besides ("# e2e-host-packages: erofs-utils").
	local extra
	for s in "${runs[@]}"; do
		read -ra extra <<<"$(sed -n '1,30s/^# e2e-host-packages: *\([a-z0-9 .+-]*\)$/\1/p' "${s%@*}" | head -n 1)"
		HOST_PACKAGES+=(${extra[@]+"${extra[@]}"})
	done
	install_host_packages
	build_deb
	say "e2e: package $DEB"
	SYSEXT=
	for s in "${runs[@]}"; do
		grep -q '^# e2e-sysext: yes$' "${s%@*}" || continue
		build_sysext
		say "e2e: system extension $SYSEXT"
		break
	done
	guests=$(printf '%s\n' "${runs[@]##*@}" | sort -u)
	for guest in $guests; do
		prepare_rootfs "$guest"
		make_package_layer "$guest"
	done
	# The example image, over each guest a run of "# e2e-package: image" boots.
	for s in "${runs[@]}"; do
		[ "$(scenario_package "${s%@*}")" = image ] || continue
		[ -n "${IMAGE_LAYER[${s##*@}]:-}" ] || make_image_layer "${s##*@}"
	done
	prune_rootfs_cache
	say "e2e: host ready in $(fmt_ms $(($(now_ms) - t0))) (packages, guest roots, make deb, dpkg -i)"

	suite_t0=$(now_ms)
	local i=0 side
	while [ "$i" -lt "${#runs[@]}" ]; do
		# Consecutive runs of "# e2e-parallel: yes" scenarios go side by side.
		side=()
		while [ "${E2E_JOBS:-2}" -gt 1 ] && [ "$i" -lt "${#runs[@]}" ] &&
			[ "$(scenario_parallel "${runs[$i]%@*}")" = yes ]; do
			side+=("${runs[$i]}")
			i=$((i + 1))
		done
		if [ ${#side[@]} -gt 0 ]; then
			run_side_by_side "${side[@]}"
			continue
		fi
		t0=$(now_ms)
		run_scenario "${runs[$i]}"
		report_run "${runs[$i]}" $(($(now_ms) - t0))
		i=$((i + 1))
	done

	say "e2e: ${#runs[@]} runs in $(fmt_ms $(($(now_ms) - suite_t0))); logs in $OUT_DIR"
	[ "$skipped" -gt 0 ] && say "$skipped skipped"
	say "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] || exit 1
	# CI has everything a scenario needs: a skip there is a broken setup, not a success.
	[ "$skipped" -eq 0 ] || [ "${E2E_ALLOW_SKIP:-0}" = 1 ] || exit 1
}

main "$@"
