#!/usr/bin/env bash
# Boot one guest: mount its root as an overlay, then exec systemd-nspawn on it.
#
#   boot-guest.sh STATE_DIR LOWER_DIR... -- [systemd-nspawn options and kernel args]
#
# LOWER_DIRs are read-only layers, the first one on top (scenario seed files, harness files,
# the staged project, finally the cached rootfs). Every write of the guest lands in
# STATE_DIR/upper, so the cached rootfs is never modified, and booting again with the same
# STATE_DIR is a reboot with the disk kept.
#
# Why not `systemd-nspawn --volatile=overlay`: its writable layer is a fresh tmpfs made by
# nspawn itself, so files cannot be in place before boot (a generator must see them at
# boot) and nothing survives a second boot.
#
# run.sh calls this under `unshare --mount` from inside a fresh cgroup: the overlay mount
# lives only in that private mount namespace and disappears with the guest, even when the
# guest is killed.
set -euo pipefail

state=$1; shift
lowers=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do lowers+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#lowers[@]} -gt 0 ] || { echo "boot-guest.sh: no lower layers given" >&2; exit 2; }

# overlayfs separates lower dirs with ':' and options with ','.
for d in "$state" "${lowers[@]}"; do
	case $d in *[:,]*) echo "boot-guest.sh: path unusable for overlayfs: $d" >&2; exit 2 ;; esac
done

mkdir -p "$state/upper" "$state/work" "$state/root"
lowerdir=$(IFS=:; echo "${lowers[*]}")
mount -t overlay e2e-guest -o "lowerdir=$lowerdir,upperdir=$state/upper,workdir=$state/work" \
	"$state/root"

# Flags that matter on these machines (see ../README.md):
#   --register=no --keep-unit   there is no host systemd/system bus to register with
#   --private-network           scenarios must not depend on (or reach) the network
#   --link-journal=no           never touch the host's /var/log/journal
#   --console=pipe              stdin is /dev/null, the console goes to run.sh's log file
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 # a pure cgroup v2 guest, like a real Debian 12 host
exec systemd-nspawn --quiet --directory="$state/root" \
	--register=no --keep-unit --private-network --link-journal=no --console=pipe \
	"$@"
