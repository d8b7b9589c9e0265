#!/usr/bin/env bash
# Run ansible-test sanity on a copy of this checkout laid out as ansible_collections/crashdump/kdump
# (ansible-test insists on that path). Usage: scripts/sanity.sh [extra ansible-test sanity args]
#
# By default only the tests that need no downloads run: every other test makes ansible-test build a
# virtual environment and fetch a pip bootstrap script from ci-files.testing.ansible.com, which is
# not reachable from the lab machine. With network access run: SANITY_ALL=1 scripts/sanity.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${SANITY_DIR:-/tmp/crashdump-kdump-sanity}
DEST=$WORK/ansible_collections/crashdump/kdump

[ -x .venv/bin/ansible-test ] || { echo "run scripts/setup.sh first" >&2; exit 1; }
# shellcheck disable=SC1091
source .venv/bin/activate

rm -rf "$WORK"
mkdir -p "$DEST"
rsync -a --exclude .venv --exclude .cache --exclude .git --exclude .ansible --exclude lab/images \
  --exclude __pycache__ --exclude .pytest_cache --exclude tests/output "$REPO"/ "$DEST"/
cd "$DEST"
git init -q
git add -A
git -c user.name=sanity -c user.email=sanity@example.invalid commit -q -m "sanity snapshot"

if [ "${SANITY_ALL:-0}" = 1 ]; then
  exec ansible-test sanity --venv --python 3.11 --requirements "$@"
fi
OFFLINE_TESTS=(action-plugin-docs changelog compile empty-init ignores line-endings no-assert
  no-get-exception no-illegal-filenames no-smart-quotes replace-urlopen shebang symlinks
  use-argspec-type-path use-compat-six)
args=()
for test in "${OFFLINE_TESTS[@]}"; do args+=(--test "$test"); done
exec ansible-test sanity --python 3.11 "${args[@]}" "$@"
