#!/bin/bash
# Host side: the common env gate files (50-envgate-file-at-boot.d/shared/), no role file ever,
# Timeout=60s.
exec "$(dirname "$0")/../50-envgate-file-at-boot.d/shared/seed.sh" "$1" --timeout 60s
