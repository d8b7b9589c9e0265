"""Make the checkout importable as ansible_collections.crashdump.kdump, as Ansible imports it."""

from __future__ import annotations

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS_PATH = os.path.join(REPO_ROOT, ".cache", "collections")

if not os.path.isdir(os.path.join(COLLECTIONS_PATH, "ansible_collections", "crashdump", "kdump")):
    raise RuntimeError(f"{COLLECTIONS_PATH} lacks the crashdump.kdump link: run scripts/setup.sh")
if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)
