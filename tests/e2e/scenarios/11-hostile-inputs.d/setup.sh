#!/bin/bash
# Host side, before boot: $1 is the guest's seed layer. Inputs git cannot hold or should not:
# a FIFO (the generator hung on it for ever, and systemd then loses every unit of the boot),
# a socket, a 2 MiB file, names systemd refuses, a name that is not UTF-8.
set -euo pipefail
d=$1/etc/containers/systemd
mkdir -p "$d"
image='[Container]\nImage=docker.io/library/busybox:latest\n'
printf "$image" >"$d/good.container"
mkfifo "$d/fifo.container"
# Bound by its relative name from inside the directory: the seed layer's absolute path can be
# longer than a socket address holds (108 bytes).
(cd "$d" && python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' socket.container)
{ printf "$image"; head -c $((2 << 20)) /dev/zero | tr '\0' '\n'; } >"$d/huge.container"
printf "$image" >"$d/sp ace.container"
printf "$image" >"$d/@.container"
printf "$image" >"$d/$(printf 'bad\xffname').container"
# Where Podman is installed (the testing guest), its own Quadlet generator would read these
# inputs first, and it blocks on the FIFO until systemd gives up on generators after 90 s (seen:
# the boot never reaches the scenario). Masked as `unitsmith takeover` masks it; a link to a
# generator that is not installed (bookworm) changes nothing.
mkdir -p "$1/etc/systemd/system-generators"
ln -s /dev/null "$1/etc/systemd/system-generators/podman-system-generator"
