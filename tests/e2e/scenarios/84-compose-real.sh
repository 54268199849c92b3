#!/bin/bash
# A Compose project straight to units (issues 14, 21), with the real Podman (testing guest): a
# web + db + cache project copied into /etc/unitsmith/compose/shop after boot (the generator
# always reads unitsmith's own directories: no takeover) and applied with `unitsmith reload
# --restart-changed`. Then: every container runs; the web started only once the db was healthy
# (depends_on: service_healthy); services reach each other by name and by a link's alias; an
# edit of compose.yaml restarts exactly the service whose translation changed (container IDs);
# a typo is a failure stub naming compose.yaml:LINE that doctor explains, while the others run
# on; the data of the db's image VOLUME and of its anonymous volume survives a restart, a
# stop/start of the project, an edit of the service and (boot 2) a reboot; stops are clean.
# A second project, extras, proves one behaviour per service: restart: on-failure:N limits
# automatic restarts only (a manual start is never refused), a service skipped because its
# dependency was down starts when the dependency comes up, a short image name is Docker Hub's
# (docker.io/library/...), an env_file in Docker's syntax reaches the container as Docker reads
# it, without its values in the unit, a config given inline is mounted as written, a service written for a swarm (deploy:) gets the restart
# policy docker compose gives it, and the db's health check is a shell script of several lines.
# e2e-guests: testing trixie
# e2e-boots: 2
# e2e-timeout: 420
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. /e2e/lib.sh

PROJECT=/etc/unitsmith/compose/shop
FILE=$PROJECT/compose.yaml
EXTRAS=/etc/unitsmith/compose/extras
CONTAINERS=(shop-web-1 shop-db-1 shop-cache-1)
SERVICES=(shop-web.service shop-db.service shop-cache.service)

web_get() { podman exec shop-web-1 wget -qO- "$1" 2>&1; }
is_inactive() { [ "$(unit_prop "$1" ActiveState)" = inactive ]; }
is_active() { [ "$(unit_prop "$1" ActiveState)" = active ]; }
db_data() { podman exec shop-db-1 cat /data/kept /anon/kept 2>&1 | tr '\n' ' '; }

# The data kept where Docker leaves volumes anonymous: the image's VOLUME /data and the
# file's anonymous volume /anon, each in a volume named after the container and the path.
assert_db_data() { # WHEN
	wait_for --timeout 30 is_active shop-db.service || true
	assert_eq "$(db_data)" "image-volume anonymous-volume " "db's /data (image VOLUME) and /anon (anonymous) $1"
}

# What each boot needs: the images (the guest's image storage is a per-boot tmpfs).
podman_image_ready
systemctl start e2e-images.service

if [ "$E2E_BOOT" = 2 ]; then
	step "boot 2: the project started at boot, with the data of boot 1"
	for u in "${SERVICES[@]}"; do
		wait_for --timeout 60 is_active "$u" || true
		assert_eq "$(unit_prop "$u" ActiveState)" active "$u ActiveState after the reboot"
	done
	assert_db_data "after a reboot"
	volumes=$(podman volume ls --format '{{.Name}}')
	assert_contains "$volumes" "shop-db-1_data" "podman volume ls (the image VOLUME's volume)"
	assert_contains "$volumes" "shop-db-1_anon" "podman volume ls (the anonymous volume's)"
	exit 0
fi

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
for u in "${SERVICES[@]}" shop-back-network.service shop-www-volume.service shop.target; do
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
# Its start timeout fits the health check it waits for (start_period 0 + 30 x (1 s + 30 s))
# and systemd's 90 s, not 90 s alone.
assert_eq "$(unit_prop shop-db.service TimeoutStartUSec)" "17min" "db's start timeout"

step "services reach each other by name and by a link's alias; the web serves its volume"
wait_for --timeout 15 podman exec shop-web-1 wget -qO- http://127.0.0.1:8080/ >/dev/null || true
assert_eq "$(web_get http://127.0.0.1:8080/)" hello "web (GREETING from \${GREETING:-hello}, \$\$ kept for the shell)"
assert_eq "$(web_get http://cache:6379/)" PONG "the cache, reached by its service name"
assert_eq "$(web_get http://kv:6379/)" PONG "the cache, reached by the alias web's links: gives it"

step "the db's image VOLUME and anonymous volume keep their data across a restart"
podman exec shop-db-1 sh -c 'echo image-volume > /data/kept; echo anonymous-volume > /anon/kept'
web_before=$(container_id shop-web-1)
db_before=$(container_id shop-db-1)
systemctl restart shop-db.service
[ "$(container_id shop-db-1)" != "$db_before" ] && ok "db: a new container after the restart" ||
	check_failed "db: the same container after a restart"
assert_db_data "after systemctl restart"
assert_eq "$(container_id shop-web-1)" "$web_before" "web container (a db restart does not restart it: no restart: true)"
labels=$(podman volume inspect --format '{{index .Labels "io.unitsmith.compose.project"}}/{{index .Labels "io.unitsmith.compose.service"}}' shop-db-1_data shop-db-1_anon | sort -u)
assert_eq "$labels" "shop/db" "the kept volumes' labels (podman volume ls --filter label=... finds them)"

step "... across a stop and a start of the project"
systemctl stop shop.target
wait_for --timeout 20 is_inactive shop-db.service || true
systemctl start shop.target
assert_db_data "after systemctl stop/start shop.target"

step "an edit of compose.yaml restarts exactly the service whose translation changed"
wait_for --timeout 30 is_active shop-web.service || true
ids_before=$(container_ids)
sed -i 's/GREETING:-hello/GREETING:-edited/' "$FILE"
out=$(unitsmith reload --restart-changed 2>&1) || check_failed "reload after the edit exited $?"
echo "$out" | sed 's/^/# reload: /'
assert_only_replaced "$ids_before" shop-web-1
wait_for --timeout 15 podman exec shop-web-1 wget -qO- http://127.0.0.1:8080/ >/dev/null || true
assert_eq "$(web_get http://127.0.0.1:8080/)" edited "web after the edit"

step "... and the db keeps its data across an edit of the db"
ids_before=$(container_ids)
sed -i 's/      - \/anon/      - \/anon\n    labels: [edited=yes]/' "$FILE"
out=$(unitsmith reload --restart-changed 2>&1) || check_failed "reload after the db's edit exited $?"
echo "$out" | sed 's/^/# reload: /'
assert_only_replaced "$ids_before" shop-db-1
assert_db_data "after an edit of the db"

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

step "extras: written and applied (late-dep's image does not exist yet; short's cannot be pulled)"
cp -a /root/compose-extras "$EXTRAS"
chown -R root:root "$EXTRAS"
chmod -R go-w "$EXTRAS"
rc=0
out=$(unitsmith reload --restart-changed --timeout 60s 2>&1) || rc=$?
echo "$out" | sed 's/^/# reload: /'

step "extras: an env_file in Docker's syntax, read as Docker reads it; its values in no unit"
wait_for --timeout 30 is_active extras-envs.service || true
env_of() { podman exec extras-envs-1 sh -c "printf %s \"\$$1\"" 2>&1; } # (busybox: no printenv)
assert_eq "$(env_of GREETING)" "hello # not a comment" "GREETING (export, double quotes, # inside)"
assert_eq "$(env_of SECRET)" 's3cr$t-value' "SECRET (single quotes: no interpolation)"
assert_eq "$(env_of COMBINED)" "plain-and-more" "COMBINED (interpolated from an earlier line, whose comment is dropped)"
unit_text=$(systemctl cat extras-envs.service)
assert_not_contains "$unit_text" "s3cr" "extras-envs.service's unit text (the secret)"
assert_not_contains "$(journalctl -b --no-pager)" "s3cr" "the journal (the secret)"
left=$(ls /run/unitsmith/compose-run/extras/ 2>/dev/null | grep -c '\.env$' || true)
assert_eq "$left" 0 "env files for podman left in /run after the start"

step "extras: a config given inline (content:) is mounted read-only, as written"
assert_eq "$(podman exec extras-envs-1 cat /etc/greeting.conf)" "$(printf 'greeting=hi 100%% $HOME\nsecond line')" "the config's content in the container"
rc=0
podman exec extras-envs-1 sh -c 'echo x >> /etc/greeting.conf' 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] && ok "the config is read-only in the container" || check_failed "the container could write its config"

step "extras: restart: on-failure:2 restarts a failing container twice, then leaves it"
count() { wc -l </etc/unitsmith/compose/extras/runs/count 2>/dev/null || echo 0; }
limit_reached() { [ "$(count)" -ge 3 ] && is_inactive extras-flaky.service; }
wait_for --timeout 60 limit_reached || check_failed "flaky: $(count) runs, $(unit_prop extras-flaky.service ActiveState)"
sleep 3 # (no further automatic restart may come)
assert_eq "$(count)" 3 "flaky's runs (1 + on-failure:2)"
assert_contains "$(journalctl -b -u extras-flaky.service --no-pager)" "not restarted again: restart: on-failure:2" "flaky's journal"

step "extras: ... and a start or restart by hand is never refused"
for i in 1 2 3 4; do
	rc=0
	out=$(systemctl restart extras-flaky.service 2>&1) || rc=$?
	assert_eq "$rc" 0 "manual restart $i of flaky ($out)"
done
wait_for --timeout 60 is_inactive extras-flaky.service || true
rc=0
out=$(systemctl start extras-flaky.service 2>&1) || rc=$?
assert_eq "$rc" 0 "manual start of flaky after its automatic restarts ran out ($out)"
assert_not_contains "$(journalctl -b -u extras-flaky.service --no-pager)" "Start request repeated too quickly" "flaky's journal"

step "extras: a service skipped because its dependency was down starts when it comes up"
assert_eq "$(unit_prop extras-late-app.service ActiveState)" inactive "late-app while late-dep has no image"
assert_contains "$(journalctl -b -u extras-late-app.service --no-pager)" "it starts when that comes up" "late-app's journal"
podman tag localhost/bb:e2e localhost/late:e2e
systemctl start extras-late-dep.service
wait_for --timeout 30 is_active extras-late-app.service ||
	check_failed "late-app is $(unit_prop extras-late-app.service ActiveState) after late-dep came up"
assert_eq "$(unit_prop extras-late-app.service ActiveState)" active "late-app once late-dep is up"

step "extras: a short image name is Docker Hub's"
short_unit=$(systemctl cat extras-short.service)
assert_contains "$short_unit" "--pull never" "short's podman run (the pull step pulls)"
assert_contains "$short_unit" "compose pull --policy missing --timeout 900 docker.io/library/busybox:e2e-unreachable" "short's pull step"
is_failed() { [ "$(unit_prop extras-short.service ActiveState)" = failed ]; }
wait_for --timeout 60 is_failed || true
assert_contains "$(journalctl -b -u extras-short.service --no-pager)" "pulling docker.io/library/busybox:e2e-unreachable" "short's journal (the pull attempt)"

step "extras: deploy.restart_policy as docker compose applies it"
wait_for --timeout 30 is_active extras-swarmish.service ||
	check_failed "swarmish is $(unit_prop extras-swarmish.service ActiveState)"
assert_eq "$(unit_prop extras-swarmish.service Restart)" on-failure "swarmish's Restart (condition: on-failure)"
assert_contains "$(systemctl cat extras-swarmish.service)" "compose restart-limit 2 %n" "swarmish's restart limit (max_attempts: 2)"

step "stops are clean: no container left, units inactive"
systemctl stop shop.target
for u in "${SERVICES[@]}"; do
	wait_for --timeout 20 is_inactive "$u" || true
	assert_eq "$(unit_prop "$u" ActiveState)/$(unit_prop "$u" Result)" inactive/success "$u after stopping the target"
done
assert_eq "$(podman ps -a --format '{{.Names}}' | grep -c '^shop-' || true)" 0 "shop containers left (podman ps -a)"
systemctl --failed --no-legend --plain | sed 's/^/# failed: /'
assert_eq "$(systemctl --failed --no-legend --plain | grep -v -e '^shop-typo.service' -e '^extras-short.service' | grep -c . || true)" 0 "failed units (besides the typo stub and short)"
# Boot 2 finds the project started at boot (its target is wanted by multi-user.target).
systemctl start shop.target
wait_for --timeout 30 is_active shop-db.service || true
