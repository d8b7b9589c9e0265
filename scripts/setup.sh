#!/usr/bin/env bash
# Install everything the collection, its tests and its lab need on a Debian host:
# system packages (QEMU, debootstrap, GRUB image tools) and a Python virtual
# environment in .venv with the pinned requirements. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

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

if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# Installed once per version of requirements.txt (the stamp holds its checksum).
stamp=.venv/requirements.sha256
if ! sha256sum --status -c "$stamp" 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt
  sha256sum requirements.txt >"$stamp"
fi
# Let ansible find this checkout as crashdump.kdump (ansible.cfg points here).
mkdir -p .cache/collections/ansible_collections/crashdump
ln -sfn ../../../.. .cache/collections/ansible_collections/crashdump/kdump
echo "setup complete: activate with 'source .venv/bin/activate'"
