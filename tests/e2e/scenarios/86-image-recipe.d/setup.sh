#!/bin/bash
# Host side: the registry stand-in for the image the example names (docker.io/library/busybox).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../fixtures/registry-standin.sh" "$1"
