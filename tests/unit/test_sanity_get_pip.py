"""scripts/sanity-get-pip.py stands in for get-pip.py where ansible-test looks for it."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import ansible_test
import pytest

from conftest import REPO_ROOT

SCRIPT = os.path.join(REPO_ROOT, "scripts", "sanity-get-pip.py")


@pytest.fixture(scope="module")
def standin():
    spec = importlib.util.spec_from_file_location("sanity_get_pip", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_get_pip_options_become_pip_install_arguments(standin):
    # what ansible-test's bootstrap passes (requirements.py: bootstrap())
    argv = ["--disable-pip-version-check", "pip==24.2", "--no-setuptools", "--no-wheel"]
    assert standin.pip_install_args(argv) == (["--disable-pip-version-check", "pip==24.2"], ["setuptools", "wheel"])
    assert standin.pip_install_args(["pip==24.2"]) == (["pip==24.2"], [])


def test_ansible_test_looks_where_sanity_sh_writes():
    root = os.path.dirname(ansible_test.__file__)
    with open(os.path.join(root, "_util", "target", "setup", "requirements.py"), encoding="utf-8") as handle:
        bootstrap = handle.read()
    assert "os.path.expanduser('~/.ansible/test/cache/get_pip_%s.py' % pip_version.replace(\".\", \"_\"))" in bootstrap
    assert "env.update(GET_PIP=cache_path)" in bootstrap
    with open(os.path.join(REPO_ROOT, "scripts", "sanity.sh"), encoding="utf-8") as handle:
        sanity = handle.read()
    assert 'get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py' in sanity
    assert "crashdump.kdump sanity stand-in for get-pip.py" in sanity


def test_sanity_sh_reads_the_pip_version_ansible_test_wants():
    # the version as ansible-test's source writes it down, read as text
    root = os.path.dirname(ansible_test.__file__)
    with open(os.path.join(root, "_internal", "python_requirements.py"), encoding="utf-8") as handle:
        wanted = re.search(r"default_packages = dict\(\s*pip='([0-9.]+)',\s*\)", handle.read())[1]
    with open(os.path.join(REPO_ROOT, "scripts", "sanity.sh"), encoding="utf-8") as handle:
        sanity = handle.read()
    code = sanity.split("pip_version=$(python -c '", 1)[1].split("')", 1)[0]
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert printed == wanted + "\n"


def test_the_standin_carries_its_marker():
    with open(SCRIPT, encoding="utf-8") as handle:
        assert "crashdump.kdump sanity stand-in for get-pip.py" in handle.read()
