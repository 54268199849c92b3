#!/bin/bash
# Host side, before boot: puts the env gate scenarios' common guest files into a seed layer.
# Used by the setup.sh of every 5x-envgate-* scenario (this directory is shared by them).
#
#   seed.sh LAYER [--timeout SPAN] [--poll SPAN] [--exec] [--role-file-at-boot]
#
# The guest gets:
#   /etc/unitsmith/creds.envgate          the declaration (gate "creds")
#   /etc/systemd/system/consumer.service  a Restart=always consumer that fails fast on the stub
#   /usr/local/sbin/e2e-write-role-file   plays cloud-init writing /etc/app/worker.env
#   /usr/local/libexec/e2e-fetch-creds    (--exec) a fetcher that fails twice, then works
#   /usr/local/lib/e2e-envgate.sh         checks shared by the scenarios
#   /etc/app/worker.env                   (--role-file-at-boot) the role file, there at boot
set -euo pipefail
layer=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timeout=10min poll= exec= at_boot=
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=$2 && shift ;;
	--poll) poll=$2 && shift ;;
	--exec) exec=1 ;;
	--role-file-at-boot) at_boot=1 ;;
	*) echo "seed.sh: unknown option $1" >&2 && exit 2 ;;
	esac
	shift
done

install -D -m 0644 "$here/consumer.service" "$layer/etc/systemd/system/consumer.service"
mkdir -p "$layer/etc/systemd/system/multi-user.target.wants"
ln -sf ../consumer.service "$layer/etc/systemd/system/multi-user.target.wants/consumer.service"
install -D -m 0755 "$here/e2e-write-role-file" "$layer/usr/local/sbin/e2e-write-role-file"
install -D -m 0644 "$here/lib.sh" "$layer/usr/local/lib/e2e-envgate.sh"

if [ -n "$exec" ]; then
	install -D -m 0755 "$here/e2e-fetch-creds" "$layer/usr/local/libexec/e2e-fetch-creds"
	build="Import=VAULT_NAME
Exec=/usr/local/libexec/e2e-fetch-creds --role worker"
else
	build="Import=AXIOM_TOKEN AXIOM_DATASET"
fi
mkdir -p "$layer/etc/unitsmith"
cat >"$layer/etc/unitsmith/creds.envgate" <<DECL
# e2e: consumer.service needs credentials from the role file that "cloud-init" writes late.
[Unit]
Description=e2e env gate: consumer credentials from the role file

[EnvGate]
WaitFor=/etc/app/worker.env
WaitFor=/etc/app/server.env
Output=/etc/consumer/consumer.env
$build
StubKeys=AXIOM_TOKEN AXIOM_DATASET
Consumer=consumer.service
Timeout=$timeout
${poll:+PollInterval=$poll}

[Install]
WantedBy=multi-user.target
DECL

if [ -n "$at_boot" ]; then
	# Written at an earlier boot (or by the image build): old. A file written milliseconds
	# before the gate looks may still be being written, and goes the slow way (wait unit).
	E2E_ROLE_FILE_ROOT=$layer "$here/e2e-write-role-file" --quick
	touch -d '1 hour ago' "$layer/etc/app/worker.env"
fi
