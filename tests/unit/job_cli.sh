# shellcheck shell=bash
# cbt job list, status and enable on job files in a --config-dir (the
# runs need a kernel: tests/vm/cases/job_run.sh), and the systemd units:
# `systemd-analyze verify' of the templates and of the drop-ins `cbt job
# enable' writes, when systemd-analyze is on the machine. Sourced by
# tests/unit/run; uses cli.sh's run.

# $out, $err and $rc are set by cli.sh's run.
# shellcheck disable=SC2154
JC=$O/job-cli

rm -rf "$JC"
mkdir -p "$JC/etc/jobs.d" "$JC/units"
cat >"$JC/etc/jobs.d/web.conf" <<EOT
# the web server's disk
device = /dev/mapper/web
chain = $JC/chain-web
cow = /dev/vdc
full_every = 7d
keep_last = 3
calendar = *-*-* 02:30
randomized_delay = 20min
EOT
cat >"$JC/etc/jobs.d/db.conf" <<EOT
device = /dev/mapper/db
chain = $JC/chain-db
cow = /dev/vdd
device = /dev/mapper/db2
EOT

run "$CBT" job list --config-dir "$JC/etc"
expect_in job_cli/list_names_bad_file 2 err "db.conf:4: a second device"
expect_in job_cli/list_shows_good_ones 2 out "web                  /dev/mapper/web -> $JC/chain-web (*-*-* 02:30)"
run env CBT_CONFIG_DIR="$JC/etc" "$CBT" job status web --json
expect_in job_cli/status_env_config_dir 0 out '"next_type": "full"'
out=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin)[0]
print(d["job"], d["last_run"], d["images"], d["chain_bytes"], d["next_why"])' 2>&1)
expect_in job_cli/status_json_fields 0 out "web None 0 0 the chain holds no image"
run "$CBT" job status db --config-dir "$JC/etc"
expect_in job_cli/status_bad_file 2 err "db.conf:4: a second device"
run "$CBT" job run nosuch --config-dir "$JC/etc"
expect_in job_cli/run_unknown_job 2 err "no job \`nosuch'"
run "$CBT" job run ../web --config-dir "$JC/etc"
expect_in job_cli/run_bad_name 2 err "bad job name"
# docs/jobs.md: NAME does not start with `.' or `-' (each char is allowed)
run "$CBT" job run .web --config-dir "$JC/etc"
expect_in job_cli/run_name_leading_dot 2 err "bad job name \`.web' (1-64 letters, digits, \`_', \`.', \`-', not starting with \`.' or \`-')"
run "$CBT" job run "$(printf 'w%.0s' {1..65})" --config-dir "$JC/etc"
expect_in job_cli/run_name_65 2 err "bad job name"
run "$CBT" job enable web --config-dir "$JC/etc" --unit-dir "$JC/units"
expect_in job_cli/enable 0 out "systemctl enable --now cbt-job@web.timer"
if grep -qx 'OnCalendar=\*-\*-\* 02:30' "$JC/units/cbt-job@web.timer.d/schedule.conf" &&
	grep -qx 'RandomizedDelaySec=20min' "$JC/units/cbt-job@web.timer.d/schedule.conf" &&
	grep -qx "ReadWritePaths=$JC/chain-web" "$JC/units/cbt-job@web.service.d/paths.conf"; then
	tap_ok "unit/job_cli/enable_dropins"
else
	tap_fail "unit/job_cli/enable_dropins"
	cat "$JC"/units/*/*.conf | sed 's/^/# /'
fi
# enable takes --json as every job action does (cbt.8): the drop-ins it wrote
rm -rf "$JC/units-json"
mkdir -p "$JC/units-json"
run "$CBT" job enable web --config-dir "$JC/etc" --unit-dir "$JC/units-json" --json
got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin)
print(d["job"], [p.split("/")[-2] for p in d["dropins"]], d["next"])' 2>&1)
if [ "$rc" = 0 ] && [ "$got" = "web ['cbt-job@web.service.d', 'cbt-job@web.timer.d'] systemctl daemon-reload && systemctl enable --now cbt-job@web.timer" ] &&
	[ -s "$JC/units-json/cbt-job@web.timer.d/schedule.conf" ]; then
	tap_ok "unit/job_cli/enable_json"
else
	tap_fail "unit/job_cli/enable_json: exit status $rc, got '$got'"
fi
# a job that does not exist is bad usage for status as for run and enable
run "$CBT" job status nosuch --config-dir "$JC/etc"
expect_in job_cli/status_unknown_job 2 err "no job \`nosuch'"
run "$CBT" job enable nosuch --config-dir "$JC/etc" --unit-dir "$JC/units-json" --json
expect_in job_cli/enable_unknown_job_json 2 out '"code": 2'

if ! command -v systemd-analyze >/dev/null; then
	tap_skip "unit/job_cli/systemd_analyze_verify" "systemd-analyze is not installed"
else
	# The units as installed, but ExecStart= on this build (verify checks the binary exists).
	cp "$TOP/systemd/cbt-job@.service" "$TOP/systemd/cbt-job@.timer" "$JC/units/"
	sed -i "s|/usr/sbin/cbt|$CBT|" "$JC/units/cbt-job@.service"
	ln -sf "cbt-job@.service" "$JC/units/cbt-job@web.service"
	ln -sf "cbt-job@.timer" "$JC/units/cbt-job@web.timer"
	if (cd "$JC/units" && SYSTEMD_UNIT_PATH="$JC/units:" systemd-analyze verify --man=no \
		cbt-job@web.service cbt-job@web.timer) >"$JC/verify.out" 2>&1 &&
		! grep -q "$JC" "$JC/verify.out"; then
		tap_ok "unit/job_cli/systemd_analyze_verify"
	else
		tap_fail "unit/job_cli/systemd_analyze_verify"
		sed 's/^/# /' "$JC/verify.out" | head -20
	fi
fi
