#!/usr/bin/env bash
# Every test of the collection: unit tests, schema drift, lint, ansible-test sanity, then the
# Molecule scenarios that boot VMs, apply the roles and prove them by forced crashes:
# default (Debian 12 and 13, local target) and targets (Debian 12 and 13 clients and a dump
# server: ssh, nfs, device, raw, server down). MOLECULE_SCENARIOS="default" runs one.
#   bash scripts/test.sh            # sets the machine up first (scripts/setup.sh) where needed
#   SKIP_MOLECULE=1 bash scripts/test.sh   # the fast part only (no VMs)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
export ANSIBLE_CONFIG=$PWD/ansible.cfg

step() { printf '\n== %s\n' "$*"; }

step "unit tests"
pytest -q
step "schema matches the policy model"
python scripts/export-schema.py --check
step "ansible-lint (production profile)"
ansible-lint -q
step "shellcheck (the capture script runs under dash in the capture kernel)"
shellcheck -s dash roles/kdump/files/debian-capture.sh
step "ansible-test sanity"
bash scripts/sanity.sh

if [ -z "${SKIP_MOLECULE:-}" ]; then
  scenarios=(${MOLECULE_SCENARIOS:-default targets})
  # No QEMU outlives the tests, pass or fail.
  trap 'for s in "${scenarios[@]}"; do molecule destroy -s "$s" </dev/null >/dev/null 2>&1 || true; done' EXIT
  times=()
  for scenario in "${scenarios[@]}"; do
    step "molecule test -s $scenario (real VM, forced crash)"
    start=$SECONDS
    # A failed scenario shows what each VM was doing: its serial console. Each molecule gets
    # its own /dev/null as stdin: a child that sets a shared stdin non-blocking (ssh does)
    # makes every later ansible refuse to start.
    molecule test -s "$scenario" --destroy never </dev/null || {
      python3 lab/kdumplab.py console --all --lines 40; molecule destroy -s "$scenario" </dev/null; exit 1; }
    molecule destroy -s "$scenario" </dev/null >/dev/null
    times+=("molecule scenario $scenario: $((SECONDS - start)) s")
  done
  step "scenario times"
  printf '%s\n' "${times[@]}"
fi
