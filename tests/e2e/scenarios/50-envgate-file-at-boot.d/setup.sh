#!/bin/bash
# Host side: the common env gate files, with the role file present at boot.
exec "$(dirname "$0")/shared/seed.sh" "$1" --role-file-at-boot
