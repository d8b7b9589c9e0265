#!/usr/bin/env bash
# The main job, end to end on this machine: build the lab, boot a small fleet of
# Debian 12 VMs, validate and apply the example policy (schemas/examples/local.yml),
# reboot them to activate the reservation, crash-test one canary with
# crashdump.kdump.crash_test, then write the fleet's compliance report (HTML, JSON,
# JUnit) into .cache/demo/report. One line per phase with its elapsed time.
#   bash scripts/demo.sh            # DEMO_HOSTS=1 for a single VM; DEMO_KEEP=1 keeps the VMs
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
phase_start=$SECONDS
phase() { # name: the phase that just ended, with its time and the total so far
  printf '== %-11s %4d s  (total %d s)\n' "$1" "$((SECONDS - phase_start))" "$((SECONDS - started))"
  phase_start=$SECONDS
}

mkdir -p .cache/demo
bash scripts/setup.sh system >.cache/demo/setup.log 2>&1 || { cat .cache/demo/setup.log; exit 1; }
phase setup
# The image needs only the system packages: the Python environment installs while it builds.
bash scripts/setup.sh python >.cache/demo/setup-python.log 2>&1 &
python_setup=$!

hosts=()
for i in $(seq 1 "${DEMO_HOSTS:-2}"); do hosts+=("demo-$i"); done
lab() { python3 lab/kdumplab.py "$@"; }
consoles() { # the VMs' own account of a failure: their serial consoles
  for host in "${hosts[@]}"; do lab console "$host" --lines 25 || true; done
}
trap 'status=$?; [ "$status" = 0 ] || { echo "demo failed (exit $status); the VMs consoles:"; consoles; }
      [ -n "${DEMO_KEEP:-}" ] || lab down "${hosts[@]}"' EXIT

lab image --suite bookworm >.cache/demo/image.log 2>&1 || { cat .cache/demo/image.log; exit 1; }
wait "$python_setup" || { cat .cache/demo/setup-python.log; exit 1; }
# shellcheck disable=SC1091
source .venv/bin/activate
phase image
lab up "${hosts[@]}" --timeout 300
phase boot

python3 - "${hosts[@]}" > .cache/demo/inventory.yml <<'PY'
import json, subprocess, sys, yaml
example = yaml.safe_load(open("schemas/examples/local.yml"))["kdump_policy"]
hosts = {h: json.loads(subprocess.check_output(["python3", "lab/kdumplab.py", "hostvars", h])) for h in sys.argv[1:]}
# kdump_reboot_timeout: a lab VM is back within minutes; the role's default suits real hardware.
print(yaml.safe_dump({"all": {"hosts": hosts, "vars": {"kdump_policy": example, "kdump_reboot_timeout": 480}}},
                     sort_keys=False))
# The same policy with the reboot allowed, for the reboot phase (extra vars replace, never merge).
json.dump({"kdump_policy": dict(example, reboot="allowed")}, open(".cache/demo/reboot-allowed.json", "w"))
PY
inventory=.cache/demo/inventory.yml
play() { ansible-playbook -i "$inventory" "$@" </dev/null >>.cache/demo/ansible.log 2>&1 || {
  tail -n 40 .cache/demo/ansible.log; return 1; }; }
: >.cache/demo/ansible.log

play crashdump.kdump.validate
phase validate
# The example leaves reboots to the operator: this run writes everything and reports the reboot.
play crashdump.kdump.site
phase apply
# The operator allows the reboot: the role reboots, then loads the capture kernel.
play crashdump.kdump.site -e @.cache/demo/reboot-allowed.json
phase reboot
play crashdump.kdump.crash_test -e crash_test_confirm=true -e "kdump_hosts=${hosts[0]}" \
  -e crash_test_results_dir="$PWD/.cache/demo/crash-test"
phase "crash test"
play crashdump.kdump.report -e kdump_report_dir="$PWD/.cache/demo/report"
phase report

python3 - <<'PY'
import json
for row in json.load(open(".cache/demo/report/kdump-report.json"))["hosts"]:
    test = row.get("last_crash_test") or {}
    proof = (f"crash test passed: {test.get('location')}, back {test.get('seconds_crash_to_back')} s after the crash"
             if test.get("passed") else "not crash-tested")
    why = f" ({'; '.join(row['reasons'])})" if row.get("reasons") else ""
    print(f"{row['host']}: {row['status']}{why}, crashkernel={row.get('crashkernel_running') or '-'}, "
          f"capture kernel loaded: {row.get('loaded')}; {proof}")
PY
echo "report: $PWD/.cache/demo/report/kdump-report.html (.json, .xml)"
