#!/usr/bin/env bash
# Mutation score of the host-side code (plugins/modules, plugins/module_utils) against the
# unit tests that cover it, with mutmut (pinned in requirements.txt).
#
#   nice -n 19 bash scripts/mutation.sh            full run; prints killed / total per file and the survivors
#   bash scripts/mutation.sh --report   the score of the last run again, without running
#
# mutmut names a mutant after its file's path, and its trampolines compare that name with the
# module's import name. The tests import the collection as ansible_collections.crashdump.kdump,
# so mutmut runs in .cache/mutation, where the checkout appears at that path. Each run starts
# from scratch (mutmut would otherwise reuse old results when only the tests changed); the
# results stay in .cache/mutation/mutants for `mutmut show NAME` there.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
source "$repo/.venv/bin/activate"
stage=$repo/.cache/mutation
prefix=ansible_collections/crashdump/kdump

[ "${1:-}" = "--report" ] || rm -rf "$stage/mutants"
mkdir -p "$stage/ansible_collections/crashdump" "$stage/mutants/.cache"
ln -sfn ../../../.. "$stage/$prefix"                  # the checkout, as Ansible imports it
ln -sfn .. "$stage/mutants/.cache/collections"        # what tests/unit/conftest.py puts on sys.path
rm -rf "$stage/tests" && cp -r "$repo/tests" "$stage/tests"

{
    echo "[mutmut]"
    echo "source_paths ="
    echo "    $prefix/plugins/modules"
    echo "    $prefix/plugins/module_utils"
    echo "also_copy ="
    for dir in plugin_utils action filter doc_fragments; do echo "    $prefix/plugins/$dir"; done
    echo "    $prefix/meta"
    echo "    $prefix/schemas"
    echo "    $prefix/roles"
    echo "pytest_add_cli_args = -p no:cacheprovider -q"
    echo "pytest_add_cli_args_test_selection ="
    # Every unit test that imports host-side code; mutmut runs only those that reach a mutant.
    (cd "$repo/tests/unit" && for test in test_kdump_facts.py test_kdump_config.py test_golden.py \
                                          test_host_*.py test_facts_*.py; do echo "    tests/unit/$test"; done)
} > "$stage/setup.cfg"

cd "$stage"
if [ "${1:-}" != "--report" ]; then
    start=$(date +%s)
    mutmut run --max-children "${MUTATION_JOBS:-2}" > mutants/run.log 2>&1 || { tail -40 mutants/run.log; exit 1; }
    echo "mutmut run: $(( $(date +%s) - start )) s (log: $stage/mutants/run.log)"
fi

python3 - "$prefix" <<'EOF'
"""killed / total per file, from mutmut's own .meta files and its own status names."""
import json, pathlib, sys
from mutmut.stats import status_by_exit_code

root = pathlib.Path("mutants", sys.argv[1])
total = killed = 0
survivors = []
for meta in sorted(root.rglob("*.py.meta")):
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    statuses = {key: status_by_exit_code[code] for key, code in codes.items()}
    if not statuses:
        continue
    dead = sum(1 for status in statuses.values() if status == "killed")
    name = str(meta.relative_to(root))[:-len(".meta")]
    print(f"{name:40} {dead:5} / {len(statuses):5} killed  {100 * dead / len(statuses):5.1f} %")
    total, killed = total + len(statuses), killed + dead
    survivors += [f"{key} ({status})" for key, status in sorted(statuses.items()) if status != "killed"]
print(f"{'all':40} {killed:5} / {total:5} killed  {100 * killed / max(total, 1):5.1f} %")
print(f"\nnot killed ({len(survivors)}; see one with: cd .cache/mutation && mutmut show NAME):")
print("\n".join("  " + s for s in survivors))
EOF
