#!/usr/bin/env bash
# Every test of the collection: unit tests, schema drift, lint, ansible-test sanity, then the
# Molecule scenario that boots VMs, applies the roles and proves them by forced crashes: targets
# (Debian 12 and 13 clients and a dump server: local, ssh, nfs, device, raw, server down).
#   bash scripts/test.sh            # sets the machine up first (scripts/setup.sh) where needed
#   SKIP_MOLECULE=1 bash scripts/test.sh   # the fast part only (no VMs)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
export ANSIBLE_CONFIG=$PWD/ansible.cfg

step() { printf '\n== %s\n' "$*"; }

if [ -z "${SKIP_MOLECULE:-}" ]; then
  # The scenario's images build on the second core while the checks below use the first.
  mkdir -p .cache/lab
  images_log=.cache/lab/images.log
  suites=$(python -c 'import yaml; print(*sorted({p["suite"] for p in yaml.safe_load(open("molecule/targets/molecule.yml"))["platforms"]}))')
  (for suite in $suites; do python3 lab/kdumplab.py image --suite "$suite" || exit; done) >"$images_log" 2>&1 &
  images=$!
fi

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
  # No QEMU outlives the tests, pass or fail.
  trap 'molecule destroy -s targets </dev/null >/dev/null 2>&1 || true' EXIT
  step "lab images ($suites)"
  wait "$images" || { cat "$images_log"; exit 1; }
  echo "built or reused while the checks ran ($SECONDS s since the start)"
  step "molecule test -s targets (real VMs, forced crashes)"
  start=$SECONDS
  # A failed scenario shows what each VM was doing: its serial console. molecule gets its own
  # /dev/null as stdin: a child that sets a shared stdin non-blocking (ssh does) makes every
  # later ansible refuse to start.
  molecule test -s targets --destroy never </dev/null || {
    python3 lab/kdumplab.py console --all --lines 40; molecule destroy -s targets </dev/null; exit 1; }
  molecule destroy -s targets </dev/null >/dev/null
  step "scenario times"
  echo "molecule scenario targets: $((SECONDS - start)) s"
fi
