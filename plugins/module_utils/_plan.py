# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (planning, standard library only: kdump_config runs it on the
managed host): policy x host facts -> plan.

Not a public API; it may change without notice.

A plan is a plain dict the ``kdump_config`` module makes on the host, from the
policy the controller validated and the host's facts, and applies: the packages,
the native files with their full content, the crashkernel= value and the service.
Each distribution family is a backend class; a policy the host's
tooling cannot honour raises PlanError naming host, distribution, field and
reason, before anything changes on any host.
"""

from __future__ import annotations

from ansible_collections.crashdump.kdump.plugins.module_utils._backend_base import PlanError
from ansible_collections.crashdump.kdump.plugins.module_utils._backend_debian import DebianBackend
from ansible_collections.crashdump.kdump.plugins.module_utils._backend_redhat import RedHatBackend
from ansible_collections.crashdump.kdump.plugins.module_utils._backend_suse import SuseBackend
from ansible_collections.crashdump.kdump.plugins.module_utils._value_kinds import UnsafeValue, check_inventory_name

__all__ = ["PlanError", "make_plan", "backend_for", "BACKENDS"]

BACKENDS = {backend.family: backend for backend in (DebianBackend, RedHatBackend, SuseBackend)}


def make_plan(policy, facts, host, host_keys=(), capture_script=None):
    """The plan for one host, or PlanError with every reason it cannot be made. host_keys:
    the SSH dump server's public host keys ("type base64"), pinned for ssh targets;
    capture_script: the text of Debian's capture script (read from the collection by default)."""
    try:
        check_inventory_name(host)  # it names the host's dump directory and goes into its files
    except UnsafeValue as exc:
        raise PlanError([str(exc)]) from None
    family = (facts.get("distribution") or {}).get("family")
    if family not in BACKENDS:
        dist = facts.get("distribution") or {}
        raise PlanError([f"host {host} ({dist.get('id', 'unknown')} {dist.get('version_id', '')}): "
                         f"no crashdump.kdump backend for the {family!r} distribution family yet "
                         f"(supported: {', '.join(BACKENDS)})"])
    return BACKENDS[family](host, facts, host_keys, capture_script).plan(policy)


def backend_for(facts, host):
    """The backend of the host's family, or None when there is none (make_plan says why)."""
    backend = BACKENDS.get((facts.get("distribution") or {}).get("family"))
    return backend(host, facts) if backend else None
