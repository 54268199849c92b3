#!/bin/bash
# At boot: the podman-set Quadlet files and a typo in /etc/containers/systemd, where Podman's
# own generator (installed in the testing guest) handles them until `unitsmith takeover`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1/etc/containers/systemd"
cp -a "$here/../../fixtures/podman-set/." "$1/etc/containers/systemd/"
printf '[Container]\nImag=localhost/bb:e2e\n' >"$1/etc/containers/systemd/typo.container"
