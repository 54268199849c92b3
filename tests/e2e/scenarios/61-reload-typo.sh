#!/bin/bash
# `unitsmith reload --restart-changed` with one broken file among 50 new ones (issue 6,
# scenario 2). Every round, required:
#   - the other 49 units start exactly once (counted in the podman TEST STAND-IN's log,
#     guest/podman-standin, NOT podman) and are active;
#   - the typo is reported with file:line and a did-you-mean, its unit (a failure stub) is not
#     started, and the exit status is 1;
#   - once the file is fixed, the next reload starts exactly that unit, nothing else: a change
#     that could not be applied is not forgotten.
# The last round asks for --json and checks the same facts there. Then `doctor` on the stub.
# e2e-timeout: 240
. /e2e/lib.sh

ROUNDS=5
PER_ROUND=50
QUADLET_DIR=/etc/containers/systemd
STANDIN_LOG=/run/podman-standin.log

install_podman_standin
mkdir -p "$QUADLET_DIR"
touch "$STANDIN_LOG"

write_container() { # NAME IMAGE_KEY
	printf '[Container]\n%s=docker.io/library/busybox:latest\nExec=sleep infinity\n' "$2" >"$QUADLET_DIR/$1.container.tmp"
	mv "$QUADLET_DIR/$1.container.tmp" "$QUADLET_DIR/$1.container"
}

starts_since() { # FIRST_LINE -> "COUNT NAME" per container started since that log line
	tail -n +"$1" "$STANDIN_LOG" | awk '$2 == "run" {
		for (i = 3; i < NF; i++) if ($i == "--name") { n = $(i + 1); sub(/^systemd-/, "", n); print n }
	}' | sort | uniq -c | awk '{ print $1, $2 }'
}

log_lines() { echo $(($(wc -l <"$STANDIN_LOG") + 1)); }

# The containers started since a log line are exactly NAME... (once each).
assert_started() { # FIRST_LINE WHAT NAME...
	local first=$1 what=$2 expected actual
	shift 2
	expected=$(printf '1 %s\n' "$@" | sort)
	actual=$(starts_since "$first" | sort)
	if [ "$actual" = "$expected" ]; then
		ok "$what: exactly these $# containers started, once each"
	else
		check_failed "$what: containers started differ (< expected, > actual):"$'\n'"$( { diff <(echo "$expected") <(echo "$actual") || true; } | grep '^[<>]' | head -n 10)"
	fi
}

step "$ROUNDS rounds: $PER_ROUND new files, one with a typo (Imag=), one unitsmith reload --restart-changed"
for r in $(seq 1 "$ROUNDS"); do
	typo_n=$((r * 7 % PER_ROUND + 1))
	typo=t-$r-$typo_n
	good=()
	for n in $(seq 1 "$PER_ROUND"); do
		if [ "$n" = "$typo_n" ]; then
			write_container "$typo" Imag
		else
			write_container "t-$r-$n" Image
			good+=("t-$r-$n")
		fi
	done
	first=$(log_lines)
	json=
	[ "$r" = "$ROUNDS" ] && json=--json
	rc=0
	out=$(unitsmith reload --restart-changed $json 2>&1) || rc=$?
	note "round $r: exit $rc, typo in $typo.container"

	assert_eq "$rc" 1 "round $r: exit status with a broken file"
	assert_started "$first" "round $r (the other $((PER_ROUND - 1)), not $typo)" "${good[@]}"
	assert_eq "$(systemctl is-active "${good[@]/%/.service}" | grep -cx active || true)" $((PER_ROUND - 1)) "round $r: other units active"
	assert_not_contains "$out" "not found" "round $r: output"
	assert_contains "$out" "$QUADLET_DIR/$typo.container:2:" "round $r: output (file:line of the typo)"
	assert_contains "$out" "did you mean 'Image'?" "round $r: output (did-you-mean)"
	assert_eq "$(unit_prop "$typo.service" LoadState)/$(unit_prop "$typo.service" ActiveState)" loaded/inactive "round $r: $typo.service (a stub, loaded, not started)"
	if [ -n "$json" ]; then
		assert_contains "$out" '"ok":false' "round $r: JSON"
		assert_contains "$out" "\"unit\":\"$typo.service\",\"source\":\"$QUADLET_DIR/$typo.container\",\"change\":\"new\",\"action\":\"not restarted\",\"instances\":[],\"status\":\"error\"" "round $r: JSON row of the stub"
		assert_contains "$out" '"kind":"stub"' "round $r: JSON"
		assert_contains "$out" "\"restarted\":$((PER_ROUND - 1))," "round $r: JSON"
	else
		if grep -Eq "^$typo\.service +loaded +new +not restarted +error: failure stub\$" <<<"$out"; then
			ok "round $r: table row of the stub: $(grep "^$typo\.service " <<<"$out")"
		else
			check_failed "round $r: no table row '$typo.service loaded new not restarted error: failure stub'"
		fi
		assert_contains "$out" "$((PER_ROUND - 1)) restarted" "round $r: summary"
	fi
	[ "$E2E_FAILURES" = 0 ] || { echo "$out" | head -n 30 | sed 's/^/#   /'; fail "round $r failed"; }

	step "round $r: the typo fixed: exactly $typo restarts"
	write_container "$typo" Image
	first=$(log_lines)
	rc=0
	out=$(unitsmith reload --restart-changed 2>&1) || rc=$?
	assert_eq "$rc" 0 "round $r: exit status once fixed"
	assert_started "$first" "round $r after the fix" "$typo"
	assert_eq "$(unit_prop "$typo.service" ActiveState)" active "round $r: $typo.service once fixed"
	[ "$E2E_FAILURES" = 0 ] || { echo "$out" | head -n 30 | sed 's/^/#   /'; fail "round $r (fix) failed"; }

	if [ "$r" = 1 ]; then
		step "doctor on a failure stub says file:line and did-you-mean"
		write_container doc-typo Imag
		systemctl daemon-reload
		rc=0
		out=$(unitsmith doctor doc-typo.service 2>&1) || rc=$?
		assert_eq "$rc" 1 "doctor exit status on a stub"
		assert_contains "$out" "error (stub): $QUADLET_DIR/doc-typo.container:2: [Container] Imag:" "doctor output"
		assert_contains "$out" "hint: did you mean 'Image'?" "doctor output"
		rm -f "$QUADLET_DIR/doc-typo.container"
	fi
	systemctl --no-block stop "${good[@]/%/.service}" "$typo.service" || true
	rm -f "$QUADLET_DIR/t-$r-"*.container
done
