"""What every test module of the scenario shares: the lab's helpers and the installed collection
on the import path, and each module's time in the verify output."""

from __future__ import annotations

import os
import sys
import time

import pytest

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path[:0] = [os.path.join(PROJECT, "lab"), os.path.join(PROJECT, ".cache", "collections")]


@pytest.fixture(autouse=True, scope="module")
def _time_verify(request):
    started = time.monotonic()
    yield
    print(f"\n{request.module.__name__} took {time.monotonic() - started:.0f}s")
