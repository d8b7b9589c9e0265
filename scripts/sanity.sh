#!/usr/bin/env bash
# Run ansible-test sanity on a copy of this checkout laid out as ansible_collections/crashdump/kdump
# (ansible-test insists on that path). Usage: scripts/sanity.sh [extra ansible-test sanity args]
#
# Every test runs in its own virtual environment (--venv --requirements), which ansible-test
# bootstraps with a get-pip.py it downloads from a host the lab machine cannot reach, unless its
# cache has one. So this script puts scripts/sanity-get-pip.py there first: ensurepip, then the pip
# version ansible-test asks for, from the index pip's own configuration names. The requirements of
# each test come from that index too.
#
# Skipped, because they fail on files this script does not own (run them with SANITY_ALL=1):
#   pep8, pylint, shellcheck (style findings in lab/, scripts/test.sh, the capture script and some
#   plugin_utils and tests), pslint (needs PowerShell).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${SANITY_DIR:-/tmp/crashdump-kdump-sanity}
DEST=$WORK/ansible_collections/crashdump/kdump
SKIPPED_TESTS=(pep8 pylint shellcheck pslint)

[ -x .venv/bin/ansible-test ] || { echo "run scripts/setup.sh first" >&2; exit 1; }
# shellcheck disable=SC1091
source .venv/bin/activate

# The file name ansible-test looks for: get_pip_<pip version with _ for .>.py.
pip_version=$(python -c '
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])')
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -e "$get_pip" ] || grep -q "crashdump.kdump sanity stand-in for get-pip.py" "$get_pip"; then
  mkdir -p "$(dirname "$get_pip")"
  cp scripts/sanity-get-pip.py "$get_pip"
fi

rm -rf "$WORK"
mkdir -p "$DEST"
rsync -a --exclude .venv --exclude .cache --exclude .git --exclude .ansible --exclude lab/images \
  --exclude __pycache__ --exclude .pytest_cache --exclude tests/output "$REPO"/ "$DEST"/
cd "$DEST"
git init -q
# ansible-test lists the files git knows of; keep out the virtual environment it builds in tests/output.
echo tests/output/ >>.git/info/exclude
git add -A
git -c user.name=sanity -c user.email=sanity@example.invalid commit -q -m "sanity snapshot"

args=(--venv --python 3.11 --requirements)
if [ "${SANITY_ALL:-0}" != 1 ]; then
  for test in "${SKIPPED_TESTS[@]}"; do args+=(--skip-test "$test"); done
fi
exec ansible-test sanity "${args[@]}" "$@"
