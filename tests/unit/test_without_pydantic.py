"""Without pydantic the plugins still import (ansible-doc, sanity import tests) and fail clearly at use."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from conftest import COLLECTIONS_PATH

SCRIPT = textwrap.dedent("""
    import sys

    class BlockPydantic:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("pydantic", "pydantic_core"):
                raise ImportError("No module named " + repr(name))
            return None

    sys.meta_path.insert(0, BlockPydantic())
    from ansible_collections.crashdump.kdump.plugins.plugin_utils import _policy
    from ansible_collections.crashdump.kdump.plugins.action import validate_policy  # noqa: F401

    assert _policy.PYDANTIC_IMPORT_ERROR is not None
    for call in (lambda: _policy.normalise_policy({}), _policy.policy_json_schema):
        try:
            call()
        except _policy.PydanticMissingError as exc:
            print(exc)
        else:
            raise SystemExit("no error without pydantic")
""")


def test_plugins_import_and_explain_without_pydantic():
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_PATH)
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("pydantic (version 2) is required on the controller") for line in lines)
