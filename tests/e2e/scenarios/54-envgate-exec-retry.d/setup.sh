#!/bin/bash
# Host side: the common env gate files (50-envgate-file-at-boot.d/shared/), the role file
# present at boot, and Exec=/usr/local/libexec/e2e-fetch-creds (fails twice, then works).
exec "$(dirname "$0")/../50-envgate-file-at-boot.d/shared/seed.sh" "$1" --role-file-at-boot --exec
