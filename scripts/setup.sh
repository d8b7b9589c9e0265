#!/usr/bin/env bash
# Install everything the collection, its tests and its lab need on a Debian host:
# system packages (QEMU, debootstrap, GRUB image tools) and a Python virtual
# environment in .venv with the pinned requirements. Safe to run again.
#   bash scripts/setup.sh           # both
#   bash scripts/setup.sh system    # the system packages only (what the lab's image build needs)
#   bash scripts/setup.sh python    # the virtual environment and the collection link only
set -euo pipefail
cd "$(dirname "$0")/.."
part=${1:-all}
case "$part" in all|system|python) ;; *) echo "usage: $0 [all|system|python]" >&2; exit 2;; esac

APT_PACKAGES=(
  qemu-system-x86 qemu-utils
  debootstrap e2fsprogs
  grub-pc-bin grub-common
  socat openssh-client
  dpkg-dev
  python3-venv rsync
  chromium  # scripts/check-report-browser.py: the HTML report in a headless browser
  shellcheck  # the capture script, in scripts/test.sh
  gawk busybox  # the capture script's arithmetic, tested with mawk, gawk and busybox awk
  openssh-server  # the dump server's contract tests drive a real sshd on loopback
)

system_packages() {
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

python_environment() {
  [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
  # Installed once per version of requirements.txt (the stamp holds its checksum).
  local stamp=.venv/requirements.sha256
  if ! sha256sum --status -c "$stamp" 2>/dev/null; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r requirements.txt
    sha256sum requirements.txt >"$stamp"
  fi
  # Let ansible find this checkout as crashdump.kdump (ansible.cfg points here).
  mkdir -p .cache/collections/ansible_collections/crashdump
  ln -sfn ../../../.. .cache/collections/ansible_collections/crashdump/kdump
}

# The venv needs python3-venv from the system part.
[ "$part" = python ] || system_packages
[ "$part" = system ] || { python_environment; echo "setup complete: activate with 'source .venv/bin/activate'"; }
