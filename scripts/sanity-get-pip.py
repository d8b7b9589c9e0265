# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crashdump.kdump sanity stand-in for get-pip.py, ansible-test's pip bootstrap; scripts/sanity.sh installs it.

ansible-test downloads get-pip.py from a host the lab machine cannot reach, unless its cache
(~/.ansible/test/cache/get_pip_<version>.py) already holds one. This stand-in takes get-pip's
arguments (pip install arguments plus --no-setuptools / --no-wheel), bootstraps the bundled pip
with ensurepip, then installs the requested pip from the index that pip's own configuration names.
"""

from __future__ import annotations

import os
import subprocess
import sys

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")


def pip_install_args(argv):
    """The pip install arguments of a get-pip.py command line, and the packages to remove after."""
    remove = [option[len("--no-"):] for option in GET_PIP_ONLY if option in argv]
    return [arg for arg in argv if arg not in GET_PIP_ONLY], remove


def main():
    install_args, remove = pip_install_args(sys.argv[1:])
    pip = [sys.executable, "-m", "pip"]
    cert = ["--cert", CA_BUNDLE] if os.path.exists(CA_BUNDLE) else []
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(pip + ["install", "--disable-pip-version-check"] + cert + install_args, check=True)
    installed = subprocess.run(pip + ["list", "--format=freeze"], check=True, capture_output=True, text=True).stdout
    present = [name for name in remove if any(line.startswith(name + "==") for line in installed.splitlines())]
    if present:
        subprocess.run(pip + ["uninstall", "--yes"] + present, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
