#!/bin/bash
# Host side of 87-sysext: a guest WITHOUT the package (# e2e-package: none) that has
#   - the system extension image (`make sysext`) in /var/lib/e2e/, for the scenario to place in
#     /var/lib/extensions/ itself;
#   - a Quadlet container wanted at boot, web.container, and, in /etc/unitsmith (which only
#     unitsmith's generator reads), a file with a typo whose failure stub shows that unitsmith's
#     generator ran;
#   - docker.io/library/busybox:stable imported at boot (fixtures/registry-standin.sh: a
#     STAND-IN FOR A REGISTRY);
#   - ../../fixtures/loop-devices.sh: loop device nodes in the guest's /dev (nspawn gives a
#     guest none), so systemd-sysext can attach the image as a host would.
set -euo pipefail
layer=$1
here=$(cd "$(dirname "$0")" && pwd)
[ -f "${E2E_SYSEXT_FILE:-}" ] || { echo "setup.sh: E2E_SYSEXT_FILE is not the image" >&2; exit 1; }
install -D -m 0644 "$E2E_SYSEXT_FILE" "$layer/var/lib/e2e/$(basename "$E2E_SYSEXT_FILE")"
install -D -m 0644 /dev/stdin "$layer/etc/containers/systemd/web.container" <<'QUADLET'
[Unit]
Description=e2e: a container wanted at boot

[Container]
Image=docker.io/library/busybox:stable
ContainerName=web
Exec=/bin/sh -c "trap 'exit 0' TERM; httpd -f -p 8080 -h /tmp & wait"

[Install]
WantedBy=multi-user.target
QUADLET
install -D -m 0644 /dev/stdin "$layer/etc/unitsmith/probe.container" <<'QUADLET'
# Only unitsmith's generator reads /etc/unitsmith: its failure stub for this typo (Imag=) shows
# that the generator ran.
[Container]
Imag=docker.io/library/busybox:stable
QUADLET
"$here/../../fixtures/registry-standin.sh" "$layer"
"$here/../../fixtures/loop-devices.sh" "$layer"
