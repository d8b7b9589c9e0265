#!/usr/bin/env bash
# The main job, end to end on this machine: build the lab, boot a small fleet of
# Debian 12 VMs, validate and apply the example policy (schemas/examples/local.yml,
# with reboots allowed), crash-test one canary with crashdump.kdump.crash_test, then
# write the fleet's compliance report (HTML, JSON, JUnit) into .cache/demo/report.
#   bash scripts/demo.sh            # DEMO_HOSTS=1 for a single VM; DEMO_KEEP=1 keeps the VMs
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source .venv/bin/activate

hosts=()
for i in $(seq 1 "${DEMO_HOSTS:-2}"); do hosts+=("demo-$i"); done
lab() { python3 lab/kdumplab.py "$@"; }
[ -n "${DEMO_KEEP:-}" ] || trap 'lab down "${hosts[@]}"' EXIT

lab up "${hosts[@]}"
mkdir -p .cache/demo
python3 - "${hosts[@]}" > .cache/demo/inventory.yml <<'PY'
import json, subprocess, sys, yaml
example = yaml.safe_load(open("schemas/examples/local.yml"))["kdump_policy"]
hosts = {h: json.loads(subprocess.check_output(["python3", "lab/kdumplab.py", "hostvars", h])) for h in sys.argv[1:]}
policy = dict(example, reboot="allowed")  # the lab may reboot to activate the reservation
print(yaml.safe_dump({"all": {"hosts": hosts, "vars": {"kdump_policy": policy}}}, sort_keys=False))
PY
inventory=.cache/demo/inventory.yml

ansible-playbook -i "$inventory" crashdump.kdump.validate
ansible-playbook -i "$inventory" crashdump.kdump.site
echo "== crash test of the canary ${hosts[0]}"
ansible-playbook -i "$inventory" crashdump.kdump.crash_test -e crash_test_confirm=true \
  -e "kdump_hosts=${hosts[0]}" -e crash_test_results_dir="$PWD/.cache/demo/crash-test"
python3 - "${hosts[0]}" <<'PY'
import json, sys
r = json.load(open(f".cache/demo/crash-test/{sys.argv[1]}/crash-test.json"))
print(f"{sys.argv[1]}: dump {r['location']} ({r['size'] / 2**20:.1f} MiB, {r['format']}, {r['compression']}, "
      f"level {r['dump_level']}), sysrq crash in dmesg: {r['dmesg_has_sysrq_crash']}, "
      f"back {r['seconds_crash_to_back']} s after the crash")
PY
echo "== compliance report"
ansible-playbook -i "$inventory" crashdump.kdump.report -e kdump_report_dir="$PWD/.cache/demo/report"
echo "report: $PWD/.cache/demo/report/kdump-report.html (.json, .xml)"
