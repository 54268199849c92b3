#!/bin/bash
# A Compose project straight to units (issue 14), with the real Podman (testing guest): a web +
# db + cache project copied into /etc/unitsmith/compose/shop after boot (the generator always
# reads unitsmith's own directories: no takeover) and applied with `unitsmith reload
# --restart-changed`. Then: every container runs; the web started only once the db was healthy
# (depends_on: service_healthy); services reach each other by name; an edit of compose.yaml
# restarts exactly the service whose translation changed (container IDs); a typo is a failure
# stub naming compose.yaml:LINE that doctor explains, while the others run on; volume data
# survives a restart; stops are clean.
# e2e-guests: testing trixie
# e2e-timeout: 300
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

PROJECT=/etc/unitsmith/compose/shop
FILE=$PROJECT/compose.yaml
CONTAINERS=(shop-web-1 shop-db-1 shop-cache-1)
SERVICES=(shop-web.service shop-db.service shop-cache.service)

web_get() { podman exec shop-web-1 wget -qO- "$1" 2>&1; }
is_inactive() { [ "$(unit_prop "$1" ActiveState)" = inactive ]; }

podman_image_ready

step "the project is written, then applied with unitsmith reload --restart-changed"
mkdir -p /etc/unitsmith/compose
cp -a /root/compose-shop "$PROJECT"
chown -R root:root "$PROJECT"
chmod -R go-w "$PROJECT"
t0=$(now_s)
rc=0
out=$(unitsmith reload --restart-changed --timeout 60s 2>&1) || rc=$?
note "reload took $(seconds_between "$t0" "$(now_s)")s"
echo "$out" | sed 's/^/# reload: /'
assert_eq "$rc" 0 "unitsmith reload exit status"
assert_not_contains "$(journalctl -b --no-pager)" "not found" "journal ('Unit ... not found')"

step "every service runs, the target is active"
for u in "${SERVICES[@]}" shop-back-network.service shop-www-volume.service shop-db-data-volume.service shop.target; do
	assert_eq "$(unit_prop "$u" ActiveState)" active "$u ActiveState"
done
running=$(podman ps --format '{{.Names}}')
for c in "${CONTAINERS[@]}"; do
	assert_contains "$running" "$c" "podman ps"
done
assert_eq "$(unit_prop shop-web.service SourcePath)" "$FILE" "SourcePath of shop-web.service"

step "depends_on service_healthy: the web started once the db was healthy"
assert_eq "$(podman inspect --format '{{.State.Health.Status}}' shop-db-1)" healthy "db health"
db_start=$(unit_prop shop-db.service ExecMainStartTimestampMonotonic)
db_ready=$(unit_prop shop-db.service ActiveEnterTimestampMonotonic)
web_start=$(unit_prop shop-web.service ExecMainStartTimestampMonotonic)
note "db's podman run at ${db_start}us, db active at ${db_ready}us, web's podman run at ${web_start}us"
# The db is healthy 2 s after it starts (it sleeps, then makes /tmp/ready): its unit is active
# only then (Notify=healthy), not as soon as the container runs.
[ $((db_ready - db_start)) -ge 2000000 ] && ok "db's unit became active once healthy ($(( (db_ready - db_start) / 1000 )) ms after its start)" ||
	check_failed "db's unit was active $(( (db_ready - db_start) / 1000 )) ms after its start: before its healthcheck could pass"
[ "$web_start" -ge "$db_ready" ] && ok "web started after the db was healthy" ||
	check_failed "web started at $web_start, before the db was healthy at $db_ready"

step "services reach each other by name, the web serves its volume"
wait_for --timeout 15 podman exec shop-web-1 wget -qO- http://127.0.0.1:8080/ >/dev/null || true
assert_eq "$(web_get http://127.0.0.1:8080/)" hello "web (GREETING from \${GREETING:-hello}, \$\$ kept for the shell)"
assert_eq "$(web_get http://cache:6379/)" PONG "the cache, reached by its service name"

step "an edit of compose.yaml restarts exactly the service whose translation changed"
ids_before=$(container_ids)
sed -i 's/GREETING:-hello/GREETING:-edited/' "$FILE"
out=$(unitsmith reload --restart-changed 2>&1) || check_failed "reload after the edit exited $?"
echo "$out" | sed 's/^/# reload: /'
assert_only_replaced "$ids_before" shop-web-1
wait_for --timeout 15 podman exec shop-web-1 wget -qO- http://127.0.0.1:8080/ >/dev/null || true
assert_eq "$(web_get http://127.0.0.1:8080/)" edited "web after the edit"

step "a typo is a failure stub naming compose.yaml:LINE, the others run on"
ids_before=$(container_ids)
# A new service with a misspelt key, inside services: (before the top-level volumes:).
sed -i '/^volumes:/i\  typo:\n    imagee: localhost/bb:e2e\n' "$FILE"
line=$(grep -n 'imagee:' "$FILE" | cut -d: -f1)
rc=0
out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
echo "$out" | sed 's/^/# reload: /'
assert_eq "$rc" 1 "reload exit status with a typo"
assert_contains "$out" "$FILE:$line" "reload output"
assert_contains "$out" "did you mean 'image'?" "reload output"
rc=0
out=$(unitsmith doctor shop-typo.service 2>&1) || rc=$?
echo "$out" | sed 's/^/# doctor: /'
assert_eq "$rc" 1 "doctor exit status"
assert_contains "$out" "compose.yaml:$line" "doctor shop-typo.service"
assert_eq "$(unit_prop shop-typo.service LoadState)" loaded "shop-typo.service LoadState (a stub, not 'not found')"
assert_only_replaced "$ids_before" # none: the typo costs no other unit its container

step "the db's volume survives a restart of the db alone"
podman exec shop-db-1 sh -c 'echo kept > /data/kept'
web_before=$(container_id shop-web-1)
systemctl restart shop-db.service
assert_eq "$(podman exec shop-db-1 cat /data/kept)" kept "db volume after a restart"
assert_eq "$(container_id shop-web-1)" "$web_before" "web container (a db restart does not restart it: no restart: true)"

step "stops are clean: no container left, units inactive"
systemctl stop shop.target
for u in "${SERVICES[@]}"; do
	wait_for --timeout 20 is_inactive "$u" || true
	assert_eq "$(unit_prop "$u" ActiveState)/$(unit_prop "$u" Result)" inactive/success "$u after stopping the target"
done
assert_eq "$(podman ps -a --format '{{.Names}}' | grep -c '^shop-' || true)" 0 "shop containers left (podman ps -a)"
systemctl --failed --no-legend --plain | sed 's/^/# failed: /'
assert_eq "$(systemctl --failed --no-legend --plain | grep -v '^shop-typo.service' | grep -c . || true)" 0 "failed units (besides the typo stub)"
