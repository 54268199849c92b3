#!/bin/bash
# Host side of 88-ignition-recipe: examples/fcos/unitsmith.ign, checked and "applied":
#   1. against Ignition's own JSON schema (tests/ignition/validate.py), and a copy with a
#      misspelt key must fail that check;
#   2. rendered for this run's image, as a user does once the image is uploaded: its URL
#      (kept) and SHA-256 (this image's) in the config;
#   3. written into the guest's seed layer by a STAND-IN FOR IGNITION
#      (fixtures/ignition-standin.py: files, units, enabled units), which checks the image
#      against the hash and must refuse the config as committed (a placeholder hash);
#   plus fixtures: registry-standin.sh (STAND-IN FOR A REGISTRY: busybox:stable) and
#   loop-devices.sh (loop device nodes, which nspawn does not give a guest).
set -euo pipefail
layer=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
fixtures=$here/../../fixtures
ign=$repo/examples/fcos/unitsmith.ign
[ -f "${E2E_SYSEXT_FILE:-}" ] || { echo "setup.sh: E2E_SYSEXT_FILE is not the image" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Debian's python3, whose jsonschema run.sh installs (python3-jsonschema, from the header).
echo "--- 1. the config against Ignition's schema"
/usr/bin/python3 "$repo/tests/ignition/validate.py" "$ign"
sed 's/"verification"/"verificaton"/' "$ign" >"$work/typo.ign"
if /usr/bin/python3 "$repo/tests/ignition/validate.py" "$work/typo.ign"; then
	echo "setup.sh: validate.py accepted a misspelt key" >&2
	exit 1
fi

echo "--- 2. rendered for this image"
url=$(python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
print(next(f["contents"]["source"] for f in c["storage"]["files"] if f["path"] == "/var/lib/extensions/unitsmith.raw"))' "$ign")
sum=$(sha256sum "$E2E_SYSEXT_FILE" | cut -d' ' -f1)
python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
for f in c["storage"]["files"]:
    if f["path"] == "/var/lib/extensions/unitsmith.raw":
        f["contents"]["verification"]["hash"] = "sha256-" + sys.argv[2]
json.dump(c, open(sys.argv[3], "w"), indent=2)' "$ign" "$sum" "$work/rendered.ign"
/usr/bin/python3 "$repo/tests/ignition/validate.py" "$work/rendered.ign"

echo "--- 3. applied by the stand-in for Ignition"
if python3 "$fixtures/ignition-standin.py" "$ign" "$work/refused" --source "$url=$E2E_SYSEXT_FILE" \
	--guest-root "$E2E_GUEST_ROOT"; then
	echo "setup.sh: the stand-in wrote an image whose hash is not the config's" >&2
	exit 1
fi
python3 "$fixtures/ignition-standin.py" "$work/rendered.ign" "$layer" --source "$url=$E2E_SYSEXT_FILE" \
	--guest-root "$E2E_GUEST_ROOT"
"$fixtures/registry-standin.sh" "$layer"
"$fixtures/loop-devices.sh" "$layer"
