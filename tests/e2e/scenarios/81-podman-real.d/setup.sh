#!/bin/bash
# The Quadlet files of this scenario, present in the guest at /root/podman-set (the scenario
# copies them into /etc/containers/systemd all at once, after boot).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1/root/podman-set"
cp -a "$here/../../fixtures/podman-set/." "$1/root/podman-set/"
