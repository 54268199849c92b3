#!/bin/bash
# The table of which Podman release each key and flag needs, as the generator has it, for the
# scenario to hold against this guest's podman (at /root/requirements.txt).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
install -D -m 0644 "$here/../../../../generator/src/quadlet/requirements.txt" "$1/root/requirements.txt"
