# podman-guest.sh: what every guest with the real Podman and cloud-init shares (testing,
# trixie): the packages, the nspawn flags Podman needs, and the customisation after debootstrap.
# A recipe sets E2E_SUITE (and E2E_DEBOOTSTRAP_SCRIPT when debootstrap lacks the suite), sources
# this file, and calls podman_guest_customize from its rootfs_customize.
#
# Not a recipe itself: run.sh hashes every file of guests/ that is not a recipe into every
# guest's cache key, so an edit here rebuilds each guest once.

# busybox-static: the only program inside the guest's container images (make-images.py).
E2E_PACKAGES=systemd,systemd-sysv,dbus,procps,busybox-static
# Installed with apt in the chroot after debootstrap: debootstrap cannot resolve
# python3-cryptography's virtual cffi dependency (cloud-init needs it), apt can.
#   podman          the real Podman and its Quadlet generator (podman-system-generator)
#   catatonit       RunInit=yes, and the pause image of pods' infra containers
#   nftables        netavark's default bridge calls nft
#   aardvark-dns    name resolution on Quadlet networks (netavark fails to tear down a
#                   container on a custom network without it)
#   cloud-init      the real cloud-init (NoCloud seed in /var/lib/cloud/seed/nocloud/)
#   iproute2        cloud-init's network report (`ip`; a warning, so a degraded status, without)
#   libpam-systemd  user managers (user@UID.service needs pam_systemd), dbus-user-session
#                   their bus; uidmap (newuidmap) and passt (pasta) for rootless Podman
E2E_APT_PACKAGES="podman catatonit nftables aardvark-dns cloud-init python3-cffi-backend iproute2
	libpam-systemd dbus-user-session uidmap passt"
# Podman's runtime (crun) joins a session keyring and loads an eBPF device filter: the guest
# needs every capability and those two system calls.
E2E_NSPAWN_ARGS=(--capability=all --system-call-filter=@keyring --system-call-filter=bpf)

# Runs on the host after debootstrap with $1 = the new root. Only plain tools run in the
# chroot (no systemd is ever started outside a guest).
podman_guest_customize() {
	local root=$1 here
	here=$(dirname "${BASH_SOURCE[0]}")
	# The mirror's forky Release file is past its Valid-Until date (harmless for the others).
	mount --bind /proc "$root/proc"
	# shellcheck disable=SC2064
	trap "umount '$root/proc' 2>/dev/null || true" RETURN
	chroot "$root" apt-get -o Acquire::Check-Valid-Until=false update -q
	# shellcheck disable=SC2086
	chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $E2E_APT_PACKAGES
	umount "$root/proc"

	echo e2e-guest >"$root/etc/hostname"
	chroot "$root" passwd -d root >/dev/null
	ln -sf /dev/null "$root/etc/systemd/system/console-getty.service"
	ln -sf /dev/null "$root/etc/systemd/system/getty@.service"

	# Podman in an nspawn guest on this kind of host:
	# - no keyring (the guest cannot create one for each container), no pids limit (the host
	#   delegates no cgroup v2 controller, so a limit cannot be set);
	# - image storage on a tmpfs: overlayfs cannot stack on the guest's overlay root, and pods'
	#   infra containers need the overlay driver. The images are imported at each boot
	#   (lib.sh: podman_image_ready), a second or so.
	mkdir -p "$root/etc/containers" "$root/var/lib/containers"
	cat >"$root/etc/containers/containers.conf" <<-'CONF'
		# e2e guest: see tests/e2e/guests/podman-guest.sh
		[containers]
		keyring = false
		pids_limit = 0
	CONF
	echo 'tmpfs /var/lib/containers tmpfs mode=0700 0 0' >>"$root/etc/fstab"
	# - what a real host has and an nspawn guest lacks, set at each boot by e2e-podman-host:
	#   * resource limits within the guest's: these machines run without CAP_SYS_RESOURCE, so
	#     no process can raise its hard limits, and a build's RUN step (crun) asks for more
	#     open files and processes than the host allows: Podman's defaults become the guest's
	#     own hard limits (the host's limits may differ from CI machine to machine);
	#   * /dev/net/tun usable by every user (udev makes it 0666 on a real host; nspawn copies
	#     the host's 0600): rootless Podman's network (pasta) opens it.
	cat >"$root/usr/local/sbin/e2e-podman-host" <<-'SH'
		#!/bin/bash
		# e2e guest (tests/e2e/guests/podman-guest.sh): what a real Podman host has.
		set -eu
		mkdir -p /etc/containers/containers.conf.d
		n=$(ulimit -Hn) u=$(ulimit -Hu)
		printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' "$n" "$n" "$u" "$u" \
			>/etc/containers/containers.conf.d/50-e2e-limits.conf
		if [ -c /dev/net/tun ]; then chmod 0666 /dev/net/tun; fi
	SH
	chmod 0755 "$root/usr/local/sbin/e2e-podman-host"
	cat >"$root/etc/systemd/system/e2e-podman-host.service" <<-'UNIT'
		[Unit]
		Description=e2e: what a real Podman host has (limits, /dev/net/tun)
		DefaultDependencies=no
		After=local-fs.target
		Before=sysinit.target

		[Service]
		Type=oneshot
		ExecStart=/usr/local/sbin/e2e-podman-host

		[Install]
		WantedBy=sysinit.target
	UNIT
	mkdir -p "$root/etc/systemd/system/sysinit.target.wants" "$root/etc/systemd/system/multi-user.target.wants"
	ln -sf ../e2e-podman-host.service "$root/etc/systemd/system/sysinit.target.wants/"
	# - network-online.target reached at boot, as on a host with a network: rootless Quadlet
	#   units wait for it (podman-user-wait-network-online polls for 90 s otherwise). Nothing
	#   waits behind it here: the guest's network is a private loopback.
	ln -sf /usr/lib/systemd/system/network-online.target "$root/etc/systemd/system/multi-user.target.wants/"

	# cloud-init: no SSH host keys (the guest has no SSH; generating them without ssh-keygen
	# is a warning, and any warning makes `cloud-init status` report a degraded run).
	cat >"$root/etc/cloud/cloud.cfg.d/90-e2e.cfg" <<-'CFG'
		# e2e guest (tests/e2e/guests/podman-guest.sh): no SSH in this guest.
		ssh_genkeytypes: []
	CFG

	python3 "$here/make-images.py" "$root"

	chroot "$root" apt-get clean
	rm -rf "$root"/var/lib/apt/lists/*
}
