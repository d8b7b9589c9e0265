#!/usr/bin/env bash
# The main job, end to end on this machine: build the lab, boot a small fleet of
# Debian 12 VMs, validate and apply the example policy (schemas/examples/local.yml,
# with reboots allowed), crash one host and print where its dump is and its size.
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
echo "== crashing ${hosts[0]} (sysrq c) and waiting for it to come back"
lab crash "${hosts[0]}"
ansible -i "$inventory" "${hosts[0]}" -m crashdump.kdump.kdump_facts -o > .cache/demo/facts.txt
python3 - <<'PY'
import json
line = open(".cache/demo/facts.txt").read()
host, _, payload = line.partition(" | SUCCESS => ")
dumps = json.loads(payload)["ansible_facts"]["kdump"]["dumps"]
if not dumps:
    raise SystemExit(f"{host}: no dump found")
d = dumps[0]
print(f"{host}: dump {d['path']} ({d['size'] / 2**20:.1f} MiB, {d['format']}, "
      f"mode {d['mode']}, dmesg {d['dmesg']}, sysrq crash in dmesg: {d['dmesg_has_sysrq_crash']})")
PY
