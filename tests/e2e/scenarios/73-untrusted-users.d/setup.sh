#!/bin/bash
# Host side (issue 20): before the first boot, a dangling link named e2e-cron.container whose
# target holds `\r[Service]\rExecStartPre=...` (systemd ends a unit-file line at `\r` as at
# `\n`), next to an enabled vendor unit of that name. The generator's failure stub outranks the
# vendor unit and multi-user.target starts it at boot: the injected line must not run.
set -euo pipefail
layer=$1
install -d "$layer/etc/unitsmith" "$layer/usr/lib/systemd/system" \
	"$layer/etc/systemd/system/multi-user.target.wants"
ln -sfn "$(printf 'x\r[Service]\rExecStartPre=/usr/bin/touch /etc/e2e-pwned-at-boot\r')" \
	"$layer/etc/unitsmith/e2e-cron.container"
cat >"$layer/usr/lib/systemd/system/e2e-cron.service" <<'UNIT'
[Unit]
Description=e2e vendor unit the generator's stub outranks
[Service]
Type=oneshot
ExecStart=/bin/true
[Install]
WantedBy=multi-user.target
UNIT
ln -sfn /usr/lib/systemd/system/e2e-cron.service \
	"$layer/etc/systemd/system/multi-user.target.wants/e2e-cron.service"
# Issue 20 follow-up: an enabled vendor unit whose name nobody gives a Quadlet file in a
# directory delegated to them (the scenario): the vendor unit must stay the one systemd loads.
cat >"$layer/usr/lib/systemd/system/e2e-vendor.service" <<'UNIT'
[Unit]
Description=e2e vendor unit nobody's e2e-vendor.container must not replace
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
[Install]
WantedBy=multi-user.target
UNIT
ln -sfn /usr/lib/systemd/system/e2e-vendor.service \
	"$layer/etc/systemd/system/multi-user.target.wants/e2e-vendor.service"
