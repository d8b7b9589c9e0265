# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (controller side): the kdump compliance report.

Not a public API; it may change without notice.

``build_report(hosts, rows, max_age_days, now)`` compares each host's row (what the report
playbook gathered: the validated policy, the plan, the check-mode result of applying it and the
host's kdump facts) with the rules below and returns the report as JSON-able data;
``render(report)`` turns it into the three files: HTML for people, JSON, JUnit XML for CI.

Policy enables kdump: the service is enabled, the reservation is active and at least the planned
size, the capture kernel is loaded, applying the plan would change nothing, no reboot is pending,
the last crash test passed within ``max_age_days``, and it proved the running kernel and the
current capture configuration (a stale proof names what changed). The host's own crash test
record also counts: kdumpctl test's vmcore-creation.status (kdump-utils clears it whenever it
rebuilds the capture initrd, so a present one is current), the newer of the two wins.
Policy disables kdump: the service is not enabled, no capture kernel is loaded, nothing is
reserved, the running kernel has no crashkernel=, applying the plan would change nothing and no
reboot is pending.
Either way: each panic trigger the policy sets (kdump_policy.panic_on, as plan.sysctls) has that
value on the running kernel (kdump_facts' panic_sysctls).

Statuses: compliant, compliant_off (disabled as the policy says), noncompliant, conflict
(kdump_facts found something that defeats kdump whatever the policy says: its ``conflicts``
come first among the reasons), error (the role failed for the host) and unreachable (no row, or
the host was not reached). Every failed rule gives one reason that names the values found.

Beside the statuses: crash triage (every dump's panic_log read by _triage, grouped across the
fleet by signature, each host's newest as its last panic) and capture headroom (what the capture
kernel used at its peak against the reservation, from the capture record: hosts under
HEADROOM_MIN are flagged, and what could be reclaimed is totalled).

Only display fields chosen here reach the files: never the native configuration, the plan's file
contents or the host's public key.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import math
import os
import posixpath
import re
import time
import xml.etree.ElementTree as ET

import jinja2
import markupsafe

from ansible_collections.crashdump.kdump.plugins.module_utils._panic_triggers import PANIC_TRIGGERS
from ansible_collections.crashdump.kdump.plugins.plugin_utils._crash_test import utc_iso
from ansible_collections.crashdump.kdump.plugins.plugin_utils._triage import triage

STATUSES = ("compliant", "compliant_off", "noncompliant", "conflict", "error", "unreachable")
PASSING = ("compliant", "compliant_off")
FILE_NAMES = {"html": "kdump-report.html", "json": "kdump-report.json", "junit": "kdump-report.xml"}
DEFAULT_TITLE = "kdump compliance"
NO_FACTS = "no kdump facts: host unreachable or its play failed before facts"
DAY = 86400
MIB = 1024 * 1024
GIB = 1024 * MIB
TEMPLATE = "_report.html.j2"
KIB = 1024
HEADROOM_MIN = 0.20  # below this share of the reservation left free at the capture's peak, a host is flagged
# Reclaimable: what a reservation holds beyond the measured peak plus this margin (which leaves
# exactly HEADROOM_MIN free: 1 - 1 / 1.25 = 0.2).
RECLAIM_MARGIN = 1.25

# The fields of the crash test record, capture record and dump that the report shows.
CRASH_TEST_FIELDS = ("passed", "time", "epoch", "target", "location", "on_server", "capture", "size", "format",
                     "compression", "dump_level", "dmesg_has_sysrq_crash", "seconds_crash_to_back", "reason",
                     "kernel_release", "capture_checksum", "source")
CAPTURE_FIELDS = ("result", "location", "detail", "target", "stamp", "time", "mem_total_kib", "mem_available_min_kib")
PANIC_FIELDS = ("class", "reason", "panic", "rip", "frames", "comm", "pid", "kernel_release", "seconds", "rule",
                "signature")
CONFLICT_RULE = "nothing defeats kdump whatever the policy says"
PANIC_RULE = "panic triggers as the policy sets them"
KDUMPCTL_TEST = "kdumpctl test"
KDUMPCTL_REASONS = {  # vmcore-creation.status values other than success (kdump-utils' kdumpctl)
    "fail": "kdumpctl test found no vmcore where kdump.conf sends it",
    "manual": "kdumpctl test could not check its vmcore (raw or unreachable target): check it by hand",
    "pending": "kdumpctl test crashed the host but the kdump service has not checked for the vmcore since",
}
DUMP_FIELDS = ("path", "size", "time", "format", "compression", "dump_level", "dmesg_has_sysrq_crash")

# Characters XML 1.0 cannot carry at all, not even escaped.
XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- small helpers ------------------------------------------------------------------------------

def human_size(value):
    """Bytes in IEC units for people: 268435456 -> '256 MiB', None -> 'unknown'."""
    if value is None:
        return "unknown"
    value = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            break
        value /= 1024
    text = f"{value:.1f}".rstrip("0").rstrip(".") if unit != "B" else f"{value:.0f}"
    return f"{text} {unit}"


def human_days(seconds):
    """Days, rounded up to a tenth so that a breach never reads as the limit: '45', '30.1'."""
    return f"{math.ceil(seconds * 10 / DAY) / 10:.1f}".rstrip("0").rstrip(".")


def human_age(seconds):
    if seconds is None:
        return None
    if seconds < 3600:
        return "less than an hour ago"
    if seconds < DAY:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    days = int(seconds // DAY)
    return f"{days} day{'s' if days != 1 else ''} ago"


def human_value(value):
    """A field's value for people: yes and no for booleans."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_int(value):
    """An integer from facts that may be missing, null or a string; None when it is none of these."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def pick(record, fields):
    record = as_dict(record)
    return {key: record[key] for key in fields if key in record} if record else None


# --- the rules ----------------------------------------------------------------------------------

def crash_test_age(test, now):
    """Seconds since the crash test, from its epoch (or its ISO time); None when it has neither."""
    epoch = as_int(test.get("epoch"))
    if epoch is None and isinstance(test.get("time"), str):
        try:
            epoch = datetime.datetime.strptime(test["time"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            return None
    return None if epoch is None else max(0.0, now - epoch)


def kdumpctl_record(status):
    """vmcore-creation.status as a crash test record."""
    status = as_dict(status)
    if not status.get("status"):
        return None
    passed = status["status"] == "success"
    reason = "" if passed else KDUMPCTL_REASONS.get(status["status"], f"kdumpctl test status {status['status']!r}")
    return {"passed": passed, "time": status.get("time"), "epoch": status.get("epoch"), "reason": reason,
            "source": KDUMPCTL_TEST}


def crash_test_record(facts):
    """The host's newest crash test: ours (the local fact) or kdumpctl test's, by epoch."""
    ours = facts.get("last_crash_test") if isinstance(facts.get("last_crash_test"), dict) else None
    theirs = kdumpctl_record(facts.get("vmcore_creation_status"))
    if ours is None or theirs is None:
        return ours or theirs
    return theirs if (as_int(theirs.get("epoch")) or 0) > (as_int(ours.get("epoch")) or 0) else ours


def stale_proof_reasons(test, facts):
    """What changed since a passed crash test proved kdump: the kernel, the capture configuration."""
    if not isinstance(test, dict) or test.get("passed") is not True:
        return []
    when = test.get("time") or "unknown time"
    reasons = []
    proved, running = test.get("kernel_release"), facts.get("kernel_release")
    if proved and running and proved != running:
        reasons.append(f"kernel updated from {proved} to {running} since the crash test ({when})")
    proved = test.get("capture_checksum")
    current = as_dict(facts.get("capture_config")).get("checksum")
    if proved and current and proved != current:
        reasons.append(f"capture configuration changed since the crash test ({when}): checksum "
                       f"{proved[:12]} then, {current[:12]} now")
    return reasons


def crash_test_reason(test, max_age_days, now):
    if not isinstance(test, dict):
        return "never crash-tested"
    when = test.get("time") or "unknown time"
    if test.get("passed") is not True:
        return f"last crash test failed ({when}): {test.get('reason') or 'no reason recorded'}"
    age = crash_test_age(test, now)
    if age is None:
        return "last crash test passed but records no time"
    if age > max_age_days * DAY:
        return f"last crash test passed {human_days(age)} days ago ({when}, limit {max_age_days})"
    return None


def configuration_reason(check):
    if not check.get("changed"):
        return None
    files = [str(path) for path in check.get("changed_files") or []]
    if files:
        return f"configuration differs from the plan: {', '.join(files)}"
    return "applying the plan would change the host (kdump service, directories or capture kernel)"


def service_name(facts, plan):
    return as_dict(facts.get("service")).get("name") or plan.get("service") or "kdump"


def running_crashkernel(facts, check):
    crashkernel = as_dict(facts.get("crashkernel"))
    for value in (crashkernel.get("cmdline"), crashkernel.get("running"), check.get("crashkernel_running")):
        if value:
            return str(value)
    return None


def reserved_bytes(facts, check):
    reserved = as_int(as_dict(facts.get("crashkernel")).get("reserved_bytes"))
    return as_int(check.get("reserved_bytes")) if reserved is None else reserved


def panic_rules(plan, facts):
    """The running value of each panic trigger the policy sets (plan.sysctls) against it; no rule
    when the policy sets none. Applies whether kdump is on or off, as the triggers do."""
    wanted = as_dict(plan.get("sysctls"))
    if not wanted:
        return []
    running = facts.get("panic_sysctls")
    problems = []
    for name, value in wanted.items():
        if not isinstance(running, dict):
            problems.append(f"{name} is not reported by kdump_facts, the policy wants {value}")
        elif running.get(name) is None:
            problems.append(f"{name} does not exist on this kernel, the policy wants {value}")
        elif as_int(running[name]) != as_int(value):
            problems.append(f"{name} is {running[name]}, the policy wants {value}")
    return [(PANIC_RULE, "; ".join(problems) or None)]


def enabled_rules(plan, check, facts, max_age_days, now):
    """(rule, reason or None) for a host whose policy enables kdump."""
    service = as_dict(facts.get("service"))
    enabled = service.get("enabled")
    reserved = reserved_bytes(facts, check) or 0
    planned = as_int(plan.get("crashkernel_bytes")) or 0
    planned_text = f"crashkernel={plan.get('crashkernel') or 'unknown'}, {human_size(planned)}"
    running = running_crashkernel(facts, check)

    if enabled is True:
        service_reason = None
    else:
        state = "disabled" if enabled is False else "not known to systemd (enabled state unknown)"
        service_reason = f"kdump service {service_name(facts, plan)} is {state}, the policy enables kdump"
    if reserved <= 0:
        reservation_reason = f"no memory reserved for the capture kernel (planned {planned_text})"
    elif reserved < planned:
        reservation_reason = (f"{human_size(reserved)} ({reserved} bytes) reserved, less than planned "
                              f"({planned_text}, {planned} bytes)")
    else:
        reservation_reason = None
    reboot_reason = None
    if check.get("reboot_required"):
        reboot_reason = (f"reboot pending: the running kernel has crashkernel={running or 'none'}, "
                         f"the plan sets crashkernel={plan.get('crashkernel') or 'none'}")
    return [
        ("kdump service enabled", service_reason),
        ("reservation active and at least the planned size", reservation_reason),
        ("capture kernel loaded",
         None if facts.get("loaded") is True else "capture kernel not loaded (kexec_crash_loaded is not 1)"),
        ("configuration as planned", configuration_reason(check)),
        ("no reboot pending", reboot_reason),
        (f"crash test passed within {max_age_days} days", crash_test_reason(crash_test_record(facts),
                                                                             max_age_days, now)),
        ("crash test proved the running kernel and capture configuration",
         "; ".join(stale_proof_reasons(crash_test_record(facts), facts)) or None),
    ] + panic_rules(plan, facts)


def disabled_rules(plan, check, facts):
    """(rule, reason or None) for a host whose policy disables kdump."""
    reserved = reserved_bytes(facts, check) or 0
    running = running_crashkernel(facts, check)
    off = "the policy disables kdump"
    return [
        ("kdump service not enabled",
         f"kdump service {service_name(facts, plan)} is enabled, {off}"
         if as_dict(facts.get("service")).get("enabled") is True else None),
        ("no capture kernel loaded", f"a capture kernel is loaded, {off}" if facts.get("loaded") is True else None),
        ("no memory reserved",
         f"{human_size(reserved)} ({reserved} bytes) still reserved for a capture kernel, {off}" if reserved else None),
        ("no crashkernel= on the running kernel",
         f"the running kernel has crashkernel={running}, {off}" if running else None),
        ("configuration as planned", configuration_reason(check)),
        ("no reboot pending",
         f"reboot pending: the plan removes crashkernel={running or 'from the bootloader'}"
         if check.get("reboot_required") else None),
    ] + panic_rules(plan, facts)


# --- one host -----------------------------------------------------------------------------------

def target_detail(policy, plan):
    """Where the dumps of a target go, for people: 'kdump@dumps.example.org:/var/crash'. Never the SSH key."""
    target = as_dict(policy.get("target"))
    kind = target.get("type") or plan.get("target")
    if kind == "ssh":
        port = f" port {target['port']}" if target.get("port") not in (None, 22) else ""
        return f"{target.get('user')}@{target.get('host')}:{target.get('path')}{port}"
    if kind == "nfs":
        directory = posixpath.join(target.get("export") or "/", (target.get("path") or "").lstrip("/"))
        return f"{target.get('host')}:{directory}"
    if kind == "device":
        return f"{target.get('device')} {target.get('path')}"
    if kind == "raw":
        return target.get("device")
    return target.get("path") or plan.get("dump_path")


def display_fields(row, now):
    """What the report shows about a host, from whatever its row holds."""
    facts, plan, check, policy = (as_dict(row.get(key)) for key in ("facts", "plan", "check", "policy"))
    dist = as_dict(facts.get("distribution"))
    distribution = f"{dist.get('id') or ''} {dist.get('version_id') or ''}".strip() or plan.get("distribution")
    reserved = reserved_bytes(facts, check)
    mem_total = as_int(facts.get("mem_total_bytes"))
    dumps = facts.get("dumps") if isinstance(facts.get("dumps"), list) else []
    service = as_dict(facts.get("service"))
    crash_test = pick(crash_test_record(facts), CRASH_TEST_FIELDS)
    enabled = plan.get("enabled", policy.get("enabled"))
    return {
        "enabled": enabled if isinstance(enabled, bool) else None,
        "distribution": distribution or None,
        "kernel": facts.get("kernel_release"),
        # MemTotal does not count the reservation: add it back, as crashkernel= sizing does.
        "ram_bytes": None if mem_total is None else mem_total + (reserved or 0),
        "reserved_bytes": reserved,
        "planned_bytes": as_int(plan.get("crashkernel_bytes")),
        "crashkernel_planned": plan.get("crashkernel"),
        "crashkernel_running": running_crashkernel(facts, check),
        "target": plan.get("target") or as_dict(policy.get("target")).get("type"),
        "target_detail": target_detail(policy, plan),
        "dump_path": facts.get("dump_path") or plan.get("dump_path"),
        "dump_path_free_bytes": as_int(facts.get("dump_path_free_bytes")),
        "service": service.get("name") or plan.get("service"),
        "service_enabled": service.get("enabled"),
        "service_active": service.get("active"),
        "loaded": facts.get("loaded") if isinstance(facts.get("loaded"), bool) else None,
        "last_crash_test": crash_test,
        "crash_test_age_seconds": None if crash_test is None else crash_test_age(crash_test, now),
        "last_capture": pick(facts.get("last_capture"), CAPTURE_FIELDS),
        "crash_test_stale": stale_proof_reasons(crash_test, facts),
        "dumps_count": len(dumps),
        "newest_dump": pick(dumps[0], DUMP_FIELDS) if dumps else None,
        "last_panic": next((panic for panic in panics(dumps)), None),
        "headroom": headroom(reserved, as_dict(facts.get("last_capture"))),
        "conflicts": conflicts_of(facts),
        "panic_triggers": panic_triggers(plan, facts),
    }


def panic_triggers(plan, facts):
    """Each panic trigger's running value and the policy's (None: left alone); [] without readings."""
    running = facts.get("panic_sysctls")
    if not isinstance(running, dict):
        return []
    wanted = as_dict(plan.get("sysctls"))
    return [{"trigger": key, "sysctl": sysctl, "running": as_int(running.get(sysctl)),
             "policy": as_int(wanted.get(sysctl))} for key, (sysctl, dummy) in PANIC_TRIGGERS.items()]


def conflicts_of(facts):
    conflicts = facts.get("conflicts")
    return [str(reason) for reason in conflicts if reason] if isinstance(conflicts, list) else []


def panics(dumps):
    """The triage of each dump that has a panic_log, newest first, with the dump's time and path."""
    for dump in dumps:
        parse = triage(dump.get("panic_log")) if isinstance(dump, dict) and isinstance(dump.get("panic_log"), str) \
            else None
        if parse:
            yield dict({key: parse[key] for key in PANIC_FIELDS}, time=dump.get("time"), dump=dump.get("path"))


def headroom(reserved, capture):
    """Reserved against used at the capture's peak (MemTotal - lowest MemAvailable in the capture
    kernel); None when the capture record has not measured it."""
    total, lowest = as_int(capture.get("mem_total_kib")), as_int(capture.get("mem_available_min_kib"))
    if not reserved or total is None or lowest is None or lowest > total:
        return None
    used = (total - lowest) * KIB
    share = (reserved - used) / reserved
    return {
        "reserved_bytes": reserved,
        "used_bytes": used,
        "share": round(share, 3),
        "low": share < HEADROOM_MIN,
        "reclaimable_bytes": max(0, int(reserved - used * RECLAIM_MARGIN)),
        "measured": capture.get("time") or capture.get("stamp"),
    }


def evaluate(host, row, max_age_days, now):
    """The report entry of one host: status, reasons, the checks made and the display fields."""
    if row is None:
        return dict(host=host, status="unreachable", reasons=[NO_FACTS], checks=[], **display_fields({}, now))
    if not isinstance(row, dict):
        return dict(host=host, status="error", reasons=[f"malformed report row: {type(row).__name__}, not a dict"],
                    checks=[], **display_fields({}, now))
    entry = dict(host=host, checks=[], **display_fields(row, now))
    if row.get("reachable") is False:
        return dict(entry, status="unreachable", reasons=[str(row.get("error") or "host unreachable")])
    if row.get("error"):
        return dict(entry, status="error", reasons=[str(row["error"])])
    missing = [key for key in ("plan", "check", "facts") if not isinstance(row.get(key), dict) or not row[key]]
    if missing:
        return dict(entry, status="error",
                    reasons=[f"incomplete report row: no {', '.join(missing)} (the kdump role did not finish)"])

    plan, check, facts = row["plan"], row["check"], row["facts"]
    if entry["enabled"] is False:
        rules = disabled_rules(plan, check, facts)
    else:
        rules = enabled_rules(plan, check, facts, max_age_days, now)
    conflicts = entry["conflicts"] if entry["enabled"] is not False else []  # nothing to defeat when off
    checks = [{"rule": rule, "ok": reason is None, "detail": reason or ""} for rule, reason in rules]
    if entry["enabled"] is not False:
        checks.insert(0, {"rule": CONFLICT_RULE, "ok": not conflicts, "detail": "; ".join(conflicts)})
    reasons = conflicts + [reason for dummy, reason in rules if reason]
    if conflicts:
        status = "conflict"
    elif reasons:
        status = "noncompliant"
    else:
        status = "compliant_off" if entry["enabled"] is False else "compliant"
    return dict(entry, status=status, reasons=reasons, checks=checks)


def build_report(hosts, rows, max_age_days=30, now=None, title=None):
    """The report: hosts in the order given, then any row of a host not listed."""
    now = time.time() if now is None else float(now)
    rows = {str(host): row for host, row in (rows or {}).items()}
    names = list(dict.fromkeys([str(host) for host in hosts or []] + list(rows)))
    entries = [evaluate(name, rows.get(name), max_age_days, now) for name in names]
    summary = {status: sum(1 for entry in entries if entry["status"] == status) for status in STATUSES}
    summary["total"] = len(entries)
    return {
        "title": title or DEFAULT_TITLE,
        "generated": utc_iso(now),
        "max_age_days": max_age_days,
        "summary": summary,
        "hosts": entries,
        "crashes": crash_groups(names, rows),
        "headroom": fleet_headroom(entries),
    }


def crash_groups(names, rows):
    """Every dump's triage across the fleet, grouped by signature, most hosts first."""
    groups = {}
    for name in names:
        facts = as_dict(as_dict(rows.get(name)).get("facts"))
        dumps = facts.get("dumps") if isinstance(facts.get("dumps"), list) else []
        for panic in panics(dumps):
            group = groups.setdefault(panic["signature"], {
                key: panic[key] for key in ("signature", "class", "reason", "panic", "rip", "frames")})
            group.setdefault("dumps", []).append({"host": name, "time": panic["time"], "dump": panic["dump"],
                                                  "kernel_release": panic["kernel_release"]})
    result = []
    for group in groups.values():
        dumps = group.pop("dumps")
        times = sorted(dump["time"] for dump in dumps if dump["time"])
        result.append(dict(group, count=len(dumps), hosts=sorted({dump["host"] for dump in dumps}),
                           first_seen=times[0] if times else None, last_seen=times[-1] if times else None,
                           kernel_releases=sorted({d["kernel_release"] for d in dumps if d["kernel_release"]}),
                           dumps=dumps))
    return sorted(result, key=lambda g: (-len(g["hosts"]), -g["count"], g["last_seen"] or "", g["signature"]))


def fleet_headroom(entries):
    """The measured hosts, the flagged ones, and what the fleet could reclaim (see RECLAIM_MARGIN)."""
    measured = [entry for entry in entries if entry["headroom"]]
    return {
        "measured_hosts": len(measured),
        "low_hosts": [entry["host"] for entry in measured if entry["headroom"]["low"]],
        "reserved_bytes": sum(entry["headroom"]["reserved_bytes"] for entry in measured),
        "reclaimable_bytes": sum(entry["headroom"]["reclaimable_bytes"] for entry in measured),
        "min_share": HEADROOM_MIN,
        "reclaim_rule": f"reserved - {RECLAIM_MARGIN} x used at the capture's peak, per measured host "
                        f"(what leaves {HEADROOM_MIN:.0%} free)",
    }


def failing_hosts(report):
    """Every host that is not compliant (noncompliant, conflict, error or unreachable)."""
    return [entry for entry in report["hosts"] if entry["status"] not in PASSING]


# --- renderers ----------------------------------------------------------------------------------

def render_json(report):
    return json.dumps(report, indent=2) + "\n"


def xml_text(value):
    return XML_INVALID.sub("\ufffd", str(value))


def render_junit(report):
    """One testsuite, one testcase per host: noncompliant and conflict fail, error and unreachable are errors."""
    summary = report["summary"]
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", {
        "name": "crashdump.kdump compliance",
        "tests": str(summary["total"]),
        "failures": str(summary["noncompliant"] + summary["conflict"]),
        "errors": str(summary["error"] + summary["unreachable"]),
        "skipped": "0",
        "time": "0",
    })
    properties = ET.SubElement(suite, "properties")
    for name in ("generated", "max_age_days"):
        ET.SubElement(properties, "property", {"name": name, "value": xml_text(report[name])})
    for entry in report["hosts"]:
        case = ET.SubElement(suite, "testcase", {"classname": "crashdump.kdump", "name": xml_text(entry["host"]),
                                                 "time": "0"})
        reasons = [xml_text(reason) for reason in entry["reasons"]]
        if entry["status"] in ("noncompliant", "conflict"):
            element = ET.SubElement(case, "failure", {"message": reasons[0], "type": entry["status"]})
            element.text = "\n".join(reasons)
        elif entry["status"] in ("error", "unreachable"):
            element = ET.SubElement(case, "error", {"message": reasons[0], "type": entry["status"]})
            element.text = "\n".join(reasons)
        ET.SubElement(case, "system-out").text = f"status: {entry['status']}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def json_for_script(data):
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' can end the element."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def csp_hash(text):
    return "sha256-" + base64.b64encode(hashlib.sha256(str(text).encode("utf-8")).digest()).decode("ascii")


def axis(maximum, unit):
    """Ticks for a memory axis: powers of two of unit, at most 4 steps; (axis maximum, ticks)."""
    step = unit
    while maximum > 4 * step:
        step *= 2
    top = max(step, -(-maximum // step) * step)
    return top, list(range(0, top + 1, step))


def chart(report):
    """Geometry of the RAM and reservation chart (inline SVG), computed here to keep the template plain."""
    hosts = report["hosts"]
    label_w, bar_w, row_h, top = 190, 300, 26, 46
    ram_x = label_w
    res_x = ram_x + bar_w + 110  # room for the RAM label after the longest bar
    ram_top, ram_ticks = axis(max([h["ram_bytes"] or 0 for h in hosts] + [GIB]), GIB)
    res_top, res_ticks = axis(max([max(h["reserved_bytes"] or 0, h["planned_bytes"] or 0) for h in hosts]
                                  + [64 * MIB]), 64 * MIB)
    rows = []
    for index, entry in enumerate(hosts):
        ram, reserved, planned = entry["ram_bytes"], entry["reserved_bytes"] or 0, entry["planned_bytes"]
        share = f" ({100 * reserved / ram:.1f}% of RAM)" if ram and reserved else ""
        res_w = round(bar_w * reserved / res_top, 1)
        planned_x = round(res_x + bar_w * planned / res_top, 1) if ram is not None and planned else None
        rows.append({
            "index": index,
            "host": entry["host"],
            "status": entry["status"],
            "short": entry["host"] if len(entry["host"]) <= 26 else entry["host"][:25] + "\u2026",
            "y": top + index * row_h,
            "has_data": ram is not None,
            "ram_w": round(bar_w * (ram or 0) / ram_top, 1),
            "ram_label": human_size(ram) if ram is not None else "no data",
            "res_w": res_w,
            "res_label": human_size(reserved) + share,
            "res_label_x": max(res_x + res_w, planned_x or 0) + 6,
            "planned_x": planned_x,
            "planned_label": human_size(planned) if planned else None,
        })
    return {
        "width": res_x + bar_w + 170, "height": top + len(hosts) * row_h + 8, "top": top,
        "ram_x": ram_x, "res_x": res_x, "rows": rows,
        "ram_ticks": [(round(ram_x + bar_w * t / ram_top, 1), human_size(t)) for t in ram_ticks],
        "res_ticks": [(round(res_x + bar_w * t / res_top, 1), human_size(t)) for t in res_ticks],
    }


def render_html(report):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(__file__))),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(size=human_size, age=human_age, csp_hash=csp_hash, show=human_value)
    env.filters["json_script"] = lambda data: markupsafe.Markup(json_for_script(data))
    host_index = {entry["host"]: index for index, entry in enumerate(report["hosts"])}
    return env.get_template(TEMPLATE).render(report=report, statuses=STATUSES, chart=chart(report),
                                             host_index=host_index)


def render(report):
    """The content of each file, by kind (html, json, junit)."""
    return {"html": render_html(report), "json": render_json(report), "junit": render_junit(report)}
