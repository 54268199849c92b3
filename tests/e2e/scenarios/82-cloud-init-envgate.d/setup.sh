#!/bin/bash
# Host side, before boot:
#   - the common env gate files (gate "creds" for consumer.service, waiting for
#     /etc/app/worker.env; see 50-envgate-file-at-boot.d/shared/seed.sh), no role file;
#   - a NoCloud seed for the real cloud-init: its runcmd (cloud-final, after
#     multi-user.target) writes the role file 20 s after it starts, with the same writer the
#     other env gate scenarios use (two writes with a pause, in place);
#   - gate "ci" (WaitForCloudInit=yes): once cloud-init has finished, Exec= asks cloud-init for
#     the instance id; its consumer ci-consumer.service needs it.
set -euo pipefail
layer=$1
here=$(cd "$(dirname "$0")" && pwd)
"$here/../50-envgate-file-at-boot.d/shared/seed.sh" "$layer"

install -d "$layer/var/lib/cloud/seed/nocloud"
cat >"$layer/var/lib/cloud/seed/nocloud/meta-data" <<'EOF2'
instance-id: e2e-instance-0001
local-hostname: e2e-guest
EOF2
cat >"$layer/var/lib/cloud/seed/nocloud/user-data" <<'EOF2'
#cloud-config
# e2e: the role file arrives late, as when provisioning fetches it from a vault.
runcmd:
  - [sh, -c, "sleep 20 && /usr/local/sbin/e2e-write-role-file"]
EOF2

install -D -m 0755 /dev/stdin "$layer/usr/local/libexec/e2e-ci-instance" <<'EOF2'
#!/bin/sh
# e2e: what cloud-init learnt, once it has finished (Exec= of the gate "ci").
set -eu
printf 'INSTANCE_ID=%s\n' "$(cloud-init query instance_id)"
EOF2
cat >"$layer/etc/unitsmith/ci.envgate" <<'EOF2'
# e2e: ci-consumer.service needs the instance id, known once cloud-init has finished.
[EnvGate]
WaitForCloudInit=yes
Output=/etc/ci-consumer/ci.env
Exec=/usr/local/libexec/e2e-ci-instance
StubKeys=INSTANCE_ID
Consumer=ci-consumer.service
Timeout=10min

[Install]
WantedBy=multi-user.target
EOF2
install -D -m 0644 /dev/stdin "$layer/etc/systemd/system/ci-consumer.service" <<'EOF2'
[Unit]
Description=e2e consumer of the cloud-init env gate (needs INSTANCE_ID)

[Service]
EnvironmentFile=/etc/ci-consumer/ci.env
ExecStart=/bin/sh -c '[ -n "$$INSTANCE_ID" ] || { echo "ci-consumer: no INSTANCE_ID (stub env)" >&2; exit 1; }; echo "ci-consumer: running on $$INSTANCE_ID"; exec sleep infinity'
Restart=always
RestartSec=1s

[Install]
WantedBy=multi-user.target
EOF2
ln -sf ../ci-consumer.service "$layer/etc/systemd/system/multi-user.target.wants/ci-consumer.service"
