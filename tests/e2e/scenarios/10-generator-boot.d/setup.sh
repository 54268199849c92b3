#!/bin/bash
# Host side, before boot: $1 is the guest's seed layer (a copy of root/ beside this file).
# garbage.container is binary junk, made here rather than committed as an opaque blob:
# every byte value 0..255 (NUL, invalid UTF-8, '[', '=', newlines), then the same reversed.
set -euo pipefail
garbage=$1/etc/containers/systemd/garbage.container
for i in $(seq 0 255) $(seq 255 -1 0); do
	# shellcheck disable=SC2059 # the format is the byte itself
	printf "\\x$(printf %02x "$i")"
done >"$garbage"
