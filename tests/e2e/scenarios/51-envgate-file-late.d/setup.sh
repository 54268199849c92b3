#!/bin/bash
# Host side: the common env gate files (50-envgate-file-at-boot.d/shared/), the role file
# present for boot 1 only (the scenario removes it). PollInterval=30s: only inotify can see the
# file within the 2 s the scenario allows.
exec "$(dirname "$0")/../50-envgate-file-at-boot.d/shared/seed.sh" "$1" --role-file-at-boot --poll 30s
