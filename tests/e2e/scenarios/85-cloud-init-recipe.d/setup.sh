#!/bin/bash
# Host side: a guest WITHOUT unitsmith (# e2e-package: none) whose NoCloud user-data is
# examples/cloud-init/user-data.yaml as it is, and what that recipe expects of the image:
#   - the package in /var/cache/unitsmith (as ../../../examples/image/build-image.sh leaves it);
#   - the container image the recipe names, docker.io/library/busybox:stable: no registry is
#     reachable here, so a unit imports the guest's offline busybox under that name before
#     cloud-final (a stand-in for the registry, nothing else).
set -euo pipefail
layer=$1
here=$(cd "$(dirname "$0")" && pwd)
[ -f "${E2E_DEB_FILE:-}" ] || { echo "setup.sh: E2E_DEB_FILE is not the package" >&2; exit 1; }
install -D -m 0644 "$E2E_DEB_FILE" "$layer/var/cache/unitsmith/$(basename "$E2E_DEB_FILE")"
install -D -m 0644 "$here/../../../../examples/cloud-init/user-data.yaml" "$layer/var/lib/cloud/seed/nocloud/user-data"
printf 'instance-id: e2e-recipe-0001\nlocal-hostname: e2e-guest\n' >"$layer/var/lib/cloud/seed/nocloud/meta-data"
"$here/../../fixtures/registry-standin.sh" "$layer"
