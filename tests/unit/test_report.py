"""The compliance report: the rules, the three renderers, the kdump_report action, and the HTML in a browser."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.crashdump.kdump.plugins.plugin_utils import _report
from ansible_collections.crashdump.kdump.plugins.plugin_utils._report import NO_FACTS, build_report, evaluate, render

from conftest import REPO_ROOT

MIB, GIB, DAY = 2 ** 20, 2 ** 30, 86400
NOW = 1_795_860_000  # 2026-11-28
CHROMIUM = "/usr/bin/chromium"
BROWSER_CHECK = os.path.join(REPO_ROOT, "scripts", "check-report-browser.py")
SECRETS = ("AAAAC3NzaSECRET", "kdump_id_SECRET", "PLAN-FILE-CONTENT", "SETTING-SECRET")


def crash_test(days_ago=3, passed=True, **changes):
    epoch = NOW - int(days_ago * DAY)
    record = {"passed": passed, "time": _report.utc_iso(epoch), "epoch": epoch, "target": "local",
              "seconds_crash_to_back": 41.2, "reason": "" if passed else "no new dump found (local: /var/crash)"}
    if passed:
        record.update(location="/var/crash/202611250900/dump.202611250900", size=48 * MIB, format="flattened",
                      compression="lzo", dump_level=31, dmesg_has_sysrq_crash=True, capture="saved")
    return dict(record, **changes)


def facts(**changes):
    base = {
        "distribution": {"id": "debian", "version_id": "12", "major": 12, "family": "debian"},
        "architecture": "x86_64",
        "mem_total_bytes": 4 * GIB - 256 * MIB,
        "kernel_release": "6.1.0-28-amd64",
        "crashkernel": {"cmdline": "256M", "bootloader": "256M", "bootloader_source": "/boot/grub/grub.cfg",
                        "reserved_bytes": 256 * MIB},
        "loaded": True,
        "service": {"name": "kdump-tools", "enabled": True, "active": True},
        "config": {"path": "/etc/default/kdump-tools", "exists": True, "settings": {"X": "SETTING-SECRET"}},
        "target": {"path": "/var/crash", "ssh": None, "nfs": None},
        "dump_path": "/var/crash",
        "dump_path_free_bytes": 20 * GIB,
        "dumps": [{"path": "/var/crash/202611250900/dump.202611250900", "directory": "/var/crash/202611250900",
                   "size": 48 * MIB, "mtime": NOW - 3 * DAY, "time": "2026-11-25T09:00:00Z", "format": "flattened",
                   "compression": "lzo", "dump_level": 31, "dmesg": None, "dmesg_has_sysrq_crash": True,
                   "mode": "0600"}],
        "last_crash_test": crash_test(),
        "last_capture": {"result": "saved", "location": "/var/crash/202611250900/dump.202611250900",
                         "detail": "", "target": "local", "stamp": "202611250900", "time": "2026-11-25T09:00:00Z"},
        "ssh_public_key": "ssh-ed25519 AAAAC3NzaSECRET root@web01",
    }
    return merge(base, changes)


def merge(base, changes):
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def plan(**changes):
    return merge({
        "family": "debian", "distribution": "debian 12", "enabled": True, "service": "kdump-tools",
        "crashkernel": "256M", "crashkernel_bytes": 256 * MIB, "compression": "lzo", "dump_path": "/var/crash",
        "target": "local", "missing_packages": [], "reboot_allowed": False,
        "files": [{"path": "/etc/default/kdump-tools", "content": "PLAN-FILE-CONTENT\n", "mode": "0644"}],
    }, changes)


def check(**changes):
    return merge({"changed": False, "changed_files": [], "reboot_required": False, "loaded": True,
                  "crashkernel_running": "256M", "reserved_bytes": 256 * MIB}, changes)


def policy(enabled=True, target=None):
    return {"enabled": enabled, "reservation": {"size": "auto", "offset": None},
            "target": target or {"type": "local", "path": "/var/crash"},
            "filter": {"dump_level": 31, "compression": "auto", "dmesg": True}, "on_failure": "reboot",
            "on_success": "reboot", "retention": {"keep": 3, "min_free": GIB}, "reboot": "never"}


def row(facts_=None, plan_=None, check_=None, policy_=None, **changes):
    return dict({"reachable": True, "error": None, "policy": policy_ or policy(), "plan": plan_ or plan(),
                 "check": check_ or check(), "facts": facts_ or facts()}, **changes)


def disabled_row(facts_=None, check_=None):
    off_facts = facts(crashkernel={"cmdline": None, "bootloader": None, "reserved_bytes": 0}, loaded=False,
                      service={"enabled": False, "active": False}, last_crash_test=None, dumps=[])
    return row(facts_ or off_facts, plan(enabled=False, crashkernel=None, crashkernel_bytes=0),
               check_ or check(loaded=False, crashkernel_running=None, reserved_bytes=0), policy(enabled=False))


def judge(row_, max_age_days=30):
    return evaluate("web01", row_, max_age_days, NOW)


def sample_report():
    """Six hosts, every status (the sample report of the README and the browser test)."""
    ssh = {"type": "ssh", "host": "dumps.example.org", "user": "kdump", "port": 22, "path": "/var/crash",
           "key": "/root/.ssh/kdump_id_SECRET"}
    rows = {
        "web01.example.org": row(),
        "db01.example.org": row(
            facts(distribution={"id": "rhel", "version_id": "9.4", "major": 9, "family": "redhat"},
                  mem_total_bytes=32 * GIB - 448 * MIB, kernel_release="5.14.0-427.el9.x86_64",
                  crashkernel={"cmdline": "448M", "reserved_bytes": 448 * MIB},
                  service={"name": "kdump"}, last_crash_test=crash_test(12, target="ssh")),
            plan(target="ssh", crashkernel="448M", crashkernel_bytes=448 * MIB, service="kdump"),
            check(crashkernel_running="448M", reserved_bytes=448 * MIB), policy(target=ssh)),
        "lab-old.example.org": disabled_row(),
        "app02.example.org": row(
            facts(loaded=False, crashkernel={"cmdline": "128M", "reserved_bytes": 128 * MIB},
                  mem_total_bytes=16 * GIB - 128 * MIB, last_crash_test=crash_test(45)),
            plan(crashkernel="320M", crashkernel_bytes=320 * MIB),
            check(changed=True, changed_files=["/etc/default/kdump-tools", "/etc/default/grub.d/kdump-tools.cfg"],
                  reboot_required=True, loaded=False, crashkernel_running="128M", reserved_bytes=128 * MIB)),
        "build03.example.org": row(
            plan=None, check=None,
            error="host build03.example.org (debian 12): kdump_policy.filter.compression: 'zstd' is not "
                  "supported by makedumpfile 1.7.2 on this host (it supports zlib, lzo)"),
    }
    hosts = ["web01.example.org", "db01.example.org", "lab-old.example.org", "app02.example.org",
             "build03.example.org", "gone04.example.org"]
    return build_report(hosts, rows, 30, NOW)


SAMPLE_STATUSES = {"web01.example.org": "compliant", "db01.example.org": "compliant",
                   "lab-old.example.org": "compliant_off", "app02.example.org": "noncompliant",
                   "build03.example.org": "error", "gone04.example.org": "unreachable"}


# --- rules: kdump enabled -------------------------------------------------------------------------

def test_healthy_host_is_compliant_and_every_rule_was_checked():
    entry = judge(row())
    assert entry["status"] == "compliant" and entry["reasons"] == []
    assert len(entry["checks"]) == 8 and all(c["ok"] for c in entry["checks"])


@pytest.mark.parametrize("facts_changes, plan_changes, check_changes, reason", [
    ({"service": {"enabled": False}}, {}, {},
     "kdump service kdump-tools is disabled, the policy enables kdump"),
    ({"service": {"enabled": None}}, {}, {},
     "kdump service kdump-tools is not known to systemd (enabled state unknown), the policy enables kdump"),
    ({"crashkernel": {"reserved_bytes": 0}}, {}, {},
     "no memory reserved for the capture kernel (planned crashkernel=256M, 256 MiB)"),
    ({"crashkernel": {"reserved_bytes": 128 * MIB}}, {}, {},
     "128 MiB (134217728 bytes) reserved, less than planned (crashkernel=256M, 256 MiB, 268435456 bytes)"),
    ({"loaded": False}, {}, {}, "capture kernel not loaded (kexec_crash_loaded is not 1)"),
    ({}, {}, {"changed": True, "changed_files": ["/etc/default/kdump-tools", "/etc/default/grub.d/kdump.cfg"]},
     "configuration differs from the plan: /etc/default/kdump-tools, /etc/default/grub.d/kdump.cfg"),
    ({}, {}, {"changed": True},
     "applying the plan would change the host (kdump service, directories or capture kernel)"),
    ({"crashkernel": {"cmdline": "192M"}}, {"crashkernel": "256M"}, {"reboot_required": True},
     "reboot pending: the running kernel has crashkernel=192M, the plan sets crashkernel=256M"),
    ({"last_crash_test": None}, {}, {}, "never crash-tested"),
    ({"last_crash_test": crash_test(2, passed=False)}, {}, {},
     "last crash test failed (2026-11-26T10:00:00Z): no new dump found (local: /var/crash)"),
    ({"last_crash_test": crash_test(45)}, {}, {},
     "last crash test passed 45 days ago (2026-10-14T10:00:00Z, limit 30)"),
])
def test_each_rule_fails_alone_and_names_the_values(facts_changes, plan_changes, check_changes, reason):
    entry = judge(row(facts(**facts_changes), plan(**plan_changes), check(**check_changes)))
    assert entry["status"] == "noncompliant"
    assert entry["reasons"] == [reason]
    assert [c["detail"] for c in entry["checks"] if not c["ok"]] == [reason]


def test_reservation_larger_than_planned_is_fine():
    assert judge(row(facts(crashkernel={"reserved_bytes": 512 * MIB})))["status"] == "compliant"


def test_every_failed_rule_is_reported():
    entry = judge(row(facts(loaded=False, service={"enabled": False}, last_crash_test=None),
                      check_=check(reboot_required=True)))
    assert len(entry["reasons"]) == 4


@pytest.mark.parametrize("age_seconds, max_age_days, status", [
    (30 * DAY, 30, "compliant"),
    (30 * DAY + 1, 30, "noncompliant"),
    (45 * DAY, 60, "compliant"),
    (0, 0, "compliant"),
    (-3600, 30, "compliant"),  # a controller clock behind the host's: not a breach
])
def test_crash_test_age_limit(age_seconds, max_age_days, status):
    test = dict(crash_test(), epoch=NOW - age_seconds)
    assert judge(row(facts(last_crash_test=test)), max_age_days)["status"] == status


def test_a_breach_never_reads_as_the_limit():
    test = dict(crash_test(), epoch=NOW - 30 * DAY - 60)
    assert "passed 30.1 days ago" in judge(row(facts(last_crash_test=test)))["reasons"][0]


def with_crash_test(test):
    """Facts whose crash test record is exactly test (facts() would merge it into the default one)."""
    return dict(facts(), last_crash_test=test)


def test_crash_test_time_is_used_without_epoch_and_a_record_without_time_fails():
    test = crash_test(40)
    del test["epoch"]
    assert "passed 40 days ago" in judge(row(with_crash_test(test)))["reasons"][0]
    assert judge(row(with_crash_test({"passed": True})))["reasons"] == ["last crash test passed but records no time"]


def test_unreadable_crash_test_record_counts_as_never():
    assert judge(row(facts(last_crash_test=["not", "a", "dict"])))["reasons"] == ["never crash-tested"]


# --- rules: kdump disabled ------------------------------------------------------------------------

def test_disabled_host_is_compliant_off_without_crash_test():
    entry = judge(disabled_row())
    assert entry["status"] == "compliant_off" and entry["reasons"] == []
    assert not any("crash test" in c["rule"] for c in entry["checks"])


def test_disabled_service_with_unknown_state_is_off():
    entry = judge(disabled_row(facts_=facts(crashkernel={"cmdline": None, "reserved_bytes": 0}, loaded=False,
                                            service={"enabled": None, "active": None})))
    assert entry["status"] == "compliant_off"


@pytest.mark.parametrize("facts_changes, check_changes, reason", [
    ({"service": {"enabled": True}}, {}, "kdump service kdump-tools is enabled, the policy disables kdump"),
    ({"loaded": True}, {}, "a capture kernel is loaded, the policy disables kdump"),
    ({"crashkernel": {"reserved_bytes": 256 * MIB}}, {},
     "256 MiB (268435456 bytes) still reserved for a capture kernel, the policy disables kdump"),
    ({"crashkernel": {"cmdline": "256M"}}, {}, "the running kernel has crashkernel=256M, the policy disables kdump"),
    ({}, {"changed": True, "changed_files": ["/etc/default/kdump-tools"]},
     "configuration differs from the plan: /etc/default/kdump-tools"),
    ({}, {"reboot_required": True}, "reboot pending: the plan removes crashkernel=from the bootloader"),
])
def test_disabled_host_failures(facts_changes, check_changes, reason):
    base = disabled_row()
    entry = judge(disabled_row(facts_=merge(base["facts"], facts_changes), check_=merge(base["check"], check_changes)))
    assert entry["status"] == "noncompliant" and entry["reasons"] == [reason]


# --- rows that are missing, failed or odd ---------------------------------------------------------

def test_host_without_row_is_unreachable():
    report = build_report(["web01", "ghost"], {"web01": row()}, 30, NOW)
    ghost = report["hosts"][1]
    assert (ghost["host"], ghost["status"], ghost["reasons"]) == ("ghost", "unreachable", [NO_FACTS])
    assert ghost["ram_bytes"] is None and ghost["last_crash_test"] is None and ghost["dumps_count"] == 0


def test_unreachable_row_keeps_its_error():
    entry = judge({"reachable": False, "error": "Failed to connect to the host via ssh: timed out"})
    assert entry["status"] == "unreachable"
    assert entry["reasons"] == ["Failed to connect to the host via ssh: timed out"]
    assert judge({"reachable": False})["reasons"] == ["host unreachable"]


def test_role_error_is_an_error_with_its_message_and_keeps_known_facts():
    entry = judge(row(error="kdump_policy.target.port: expected an integer from 1 to 65535, got 70000",
                      plan=None, check=None))
    assert entry["status"] == "error"
    assert entry["reasons"] == ["kdump_policy.target.port: expected an integer from 1 to 65535, got 70000"]
    assert entry["distribution"] == "debian 12"


def test_incomplete_or_malformed_rows_are_errors():
    assert judge(row(plan=None, check={}))["reasons"] == [
        "incomplete report row: no plan, check (the kdump role did not finish)"]
    assert judge("garbage")["status"] == "error"


def test_facts_full_of_nulls_do_not_break_the_rules():
    nulls = {key: None for key in facts()}
    entry = judge(row(nulls, plan(crashkernel_bytes=None), {"changed": None}))
    assert entry["status"] == "noncompliant"
    assert "never crash-tested" in entry["reasons"]


def test_report_order_summary_and_extra_rows():
    report = build_report(["b", "a", "b", "c"], {"a": row(), "z": disabled_row(), "c": row(error="boom")}, 30, NOW)
    assert [h["host"] for h in report["hosts"]] == ["b", "a", "c", "z"]
    assert report["summary"] == {"compliant": 1, "compliant_off": 1, "noncompliant": 0, "conflict": 0,
                                 "error": 1, "unreachable": 1, "total": 4}


# --- renderers ------------------------------------------------------------------------------------

def test_sample_report_covers_every_status():
    report = sample_report()
    assert {h["host"]: h["status"] for h in report["hosts"]} == SAMPLE_STATUSES


def test_json_shape():
    report = sample_report()
    data = json.loads(render(report)["json"])
    assert data["generated"] == "2026-11-28T10:00:00Z" and data["max_age_days"] == 30
    assert data["summary"] == {"compliant": 2, "compliant_off": 1, "noncompliant": 1, "conflict": 0,
                               "error": 1, "unreachable": 1, "total": 6}
    assert [h["host"] for h in data["hosts"]] == list(SAMPLE_STATUSES)
    fields = {"host", "status", "reasons", "distribution", "kernel", "ram_bytes", "reserved_bytes", "planned_bytes",
              "crashkernel_planned", "crashkernel_running", "target", "loaded", "service_enabled",
              "last_crash_test", "last_capture", "dumps_count", "newest_dump"}
    for entry in data["hosts"]:
        assert fields <= set(entry)
    web = data["hosts"][0]
    assert web["ram_bytes"] == 4 * GIB and web["reserved_bytes"] == web["planned_bytes"] == 256 * MIB
    assert web["last_crash_test"]["passed"] is True and web["newest_dump"]["format"] == "flattened"
    assert data["hosts"][1]["target"] == "ssh"
    assert data["hosts"][1]["target_detail"] == "kdump@dumps.example.org:/var/crash"


@pytest.mark.parametrize("target, detail", [
    ({"type": "local", "path": "/var/crash"}, "/var/crash"),
    ({"type": "ssh", "host": "dumps", "user": "kdump", "port": 2222, "path": "/srv/d", "key": "/root/.ssh/k"},
     "kdump@dumps:/srv/d port 2222"),
    ({"type": "nfs", "host": "filer", "export": "/srv/crash", "path": "/var/crash"}, "filer:/srv/crash/var/crash"),
    ({"type": "device", "device": "LABEL=dumps", "fstype": "ext4", "path": "/kdump"}, "LABEL=dumps /kdump"),
    ({"type": "raw", "device": "/dev/vdb1", "path": "/var/crash"}, "/dev/vdb1"),
])
def test_target_detail(target, detail):
    entry = judge(row(policy_=policy(target=target), plan_=plan(target=target["type"])))
    assert (entry["target"], entry["target_detail"]) == (target["type"], detail)


def test_no_secret_reaches_any_file():
    for kind, content in render(sample_report()).items():
        for secret in SECRETS:
            assert secret not in content, (kind, secret)


def test_junit_one_case_per_host_with_failures_and_errors():
    root = ET.fromstring(render(sample_report())["junit"])
    suites = root.findall("testsuite")
    assert root.tag == "testsuites" and len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == "crashdump.kdump compliance"
    counts = [suite.get(name) for name in ("tests", "failures", "errors", "skipped")]
    assert counts == ["6", "1", "2", "0"]
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == list(SAMPLE_STATUSES)
    assert all(case.get("classname") == "crashdump.kdump" for case in cases.values())
    failure = cases["app02.example.org"].find("failure")
    assert failure.get("message") == failure.text.splitlines()[0]
    assert len(failure.text.splitlines()) == 5
    assert cases["build03.example.org"].find("error").get("type") == "error"
    assert cases["gone04.example.org"].find("error").get("message") == NO_FACTS
    for name in ("web01.example.org", "db01.example.org", "lab-old.example.org"):
        assert cases[name].find("failure") is None and cases[name].find("error") is None
    assert cases["lab-old.example.org"].find("system-out").text == "status: compliant_off"


def test_junit_survives_hostile_text():
    report = build_report(['a"b<c>&d\x1b[31m', "x"], {"x": row(error="bad ]]> \x00 <error/>")}, 30, NOW)
    root = ET.fromstring(render(report)["junit"])
    names = [case.get("name") for case in root.iter("testcase")]
    assert names == ['a"b<c>&d\ufffd[31m', "x"]
    assert root.find(".//testcase[@name='x']/error").text == "bad ]]> \ufffd <error/>"


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_html_escapes_a_hostile_host_and_reason():
    report = build_report([HOSTILE, "web01"], {HOSTILE: row(error=f"</script>{HOSTILE}"), "web01": row()}, 30, NOW)
    page = render(report)["html"]
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    # only the two real script elements end with </script>: the data block cannot be closed early
    assert page.count("</script>") == 2
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["hosts"][0]["host"] == HOSTILE


def test_html_rows_statuses_and_self_contained():
    page = render(sample_report())["html"]
    rows = re.findall(r'<tr class="main" data-host="([^"]*)" data-status="([^"]*)"', page)
    assert dict(rows) == SAMPLE_STATUSES and len(rows) == 6
    for status in set(SAMPLE_STATUSES.values()):
        assert f'class="status status-{status}"' in page
    assert not re.search(r'\s(src|href)="(?!#|data:)', page), "external resource in the page"
    assert "http://" not in page and "https://" not in page


def test_html_csp_allows_exactly_its_own_style_and_script():
    page = render(sample_report())["html"]
    csp = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]*)"', page).group(1)
    for tag, directive in (("style", "style-src"), ("script", "script-src")):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp


def test_html_of_an_empty_report():
    page = render(build_report([], {}, 30, NOW))["html"]
    assert "data-host=" not in page and "<html" in page


def test_human_size():
    assert [_report.human_size(v) for v in (None, 0, 512, 256 * MIB, 4 * GIB - 256 * MIB, 3 * 2 ** 40)] == [
        "unknown", "0 B", "512 B", "256 MiB", "3.8 GiB", "3 TiB"]


# --- the action, through ansible-playbook -------------------------------------------------------------

def run_playbook(tmp_path, tasks, extra_vars):
    """Run tasks (name -> task body) on localhost; each task's registered result, by name."""
    registered = {name: f"result_{index}" for index, name in enumerate(tasks)}
    keep = "{{ {%s} | to_json }}" % ", ".join(f"'{name}': {var}" for name, var in registered.items())
    play = [{"name": "Report", "hosts": "localhost", "gather_facts": False, "tasks": [
        *(dict(body, name=name, register=registered[name], ignore_errors=True) for name, body in tasks.items()),
        {"name": "Keep the results",
         "ansible.builtin.copy": {"dest": str(tmp_path / "results.json"), "mode": "0644", "content": keep}},
    ]}]
    (tmp_path / "play.yml").write_text(json.dumps(play))  # JSON is YAML
    (tmp_path / "vars.json").write_text(json.dumps(dict(extra_vars, ansible_python_interpreter=sys.executable)))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_LOCALHOST_WARNING="0")
    result = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml"),
                             "-e", f"@{tmp_path / 'vars.json'}"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return json.loads((tmp_path / "results.json").read_text())


def test_action_writes_the_files_once_and_fails_on_bad_arguments(tmp_path):
    dest = tmp_path / "out" / "report"
    args = {"hosts": "{{ report_hosts }}", "rows": "{{ report_rows }}", "dest": "{{ dest }}", "now": "{{ report_now }}"}
    action = "crashdump.kdump.kdump_report"
    results = run_playbook(tmp_path, {
        "first": {action: args},
        "second": {action: args},
        "check mode, later": {action: dict(args, now="{{ report_now + 86400 }}"), "check_mode": True},
        "fail on noncompliant": {action: dict(args, fail_on_noncompliant=True)},
        "unknown option": {action: dict(args, colour="red")},
        "bad max_age_days": {action: dict(args, max_age_days="thirty")},
        "dest is a file": {action: dict(args, dest="{{ dest }}/kdump-report.json")},
    }, {"report_hosts": list(SAMPLE_STATUSES), "dest": str(dest), "report_now": NOW, "report_rows": {
        "web01.example.org": row(), "lab-old.example.org": disabled_row(),
        "app02.example.org": row(facts(loaded=False)), "build03.example.org": row(error="boom")}})

    first = results["first"]
    assert first["changed"] is True and not first.get("failed"), first
    assert first["summary"] == {"compliant": 1, "compliant_off": 1, "noncompliant": 1, "conflict": 0,
                                "error": 1, "unreachable": 2, "total": 6}
    assert first["files"] == {"html": f"{dest}/kdump-report.html", "json": f"{dest}/kdump-report.json",
                              "junit": f"{dest}/kdump-report.xml"}
    assert first["hosts"][3] == {"host": "app02.example.org", "status": "noncompliant",
                                 "reasons": ["capture kernel not loaded (kexec_crash_loaded is not 1)"]}
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    for path in first["files"].values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert json.loads((dest / "kdump-report.json").read_text())["generated"] == "2026-11-28T10:00:00Z"
    assert not [p for p in os.listdir(dest) if p.startswith(".")], "temp file left behind"

    assert results["second"]["changed"] is False
    later = results["check mode, later"]
    assert later["changed"] is True and not later.get("failed")
    assert json.loads((dest / "kdump-report.json").read_text())["generated"] == "2026-11-28T10:00:00Z"

    failing = results["fail on noncompliant"]
    assert failing["failed"] is True
    assert "app02.example.org (noncompliant: capture kernel not loaded" in failing["msg"]
    assert "gone04.example.org (unreachable" in failing["msg"] and "web01" not in failing["msg"]
    assert failing["summary"]["total"] == 6  # the files are written before failing

    assert results["unknown option"]["failed"] and "colour" in results["unknown option"]["msg"]
    assert results["bad max_age_days"]["failed"] and "max_age_days" in results["bad max_age_days"]["msg"]
    assert results["dest is a file"]["failed"] and "is not a directory" in results["dest is a file"]["msg"]


# --- the page in a browser ------------------------------------------------------------------------

def write_report(directory, report):
    directory.mkdir(exist_ok=True)
    for kind, content in render(report).items():
        (directory / _report.FILE_NAMES[kind]).write_text(content, encoding="utf-8")
    return directory / _report.FILE_NAMES["html"]


def browser_check(*args):
    return subprocess.run([sys.executable, BROWSER_CHECK, *map(str, args)], capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (CI installs it)")
def test_browser_shows_every_host_once_with_its_status(tmp_path):
    report = sample_report()
    hostile = build_report([HOSTILE], {HOSTILE: row(error=HOSTILE)}, 30, NOW)["hosts"]
    report["hosts"] += hostile
    html = write_report(tmp_path / "report", report)

    passed = browser_check(html)  # expectations from the kdump-report.json next to it
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "7 host(s) shown once each" in passed.stdout

    pairs = [f"{host}={status}" for host, status in SAMPLE_STATUSES.items()]
    wrong = browser_check(html, *pairs[:-1], "gone04.example.org=compliant", "missing.example.org=compliant")
    assert wrong.returncode == 1
    assert "gone04.example.org: data-status is 'unreachable', expected 'compliant'" in wrong.stderr
    assert "missing.example.org: 0 rows in the table, expected 1" in wrong.stderr
    assert f"{HOSTILE}: in the table but not expected" in wrong.stderr


INTERACTIONS = r"""<script>
const result = {};
const shown = () => Array.from(document.querySelectorAll("#hosts tbody.host")).filter((b) => !b.hidden)
  .map((b) => b.rows[0].dataset.host.split(".")[0]);
const header = (i) => document.querySelectorAll("#hosts thead th button")[i];
header(1).click(); result.by_status = shown();
header(5).click(); result.by_reserved = shown();
header(5).click(); result.by_reserved_descending = shown();
const search = document.getElementById("search");
search.value = "ZSTD"; search.dispatchEvent(new Event("input")); result.search = shown();
search.value = ""; search.dispatchEvent(new Event("input"));
document.querySelector("input[name=status][value=compliant]").click(); result.without_compliant = shown();
document.querySelector(".tile.error").click(); result.only_error = shown();
document.getElementById("reset").click(); result.reset = shown().length;
document.querySelector("#hosts tr.main td:nth-child(3)").click();
result.open = document.querySelectorAll("tr.details:not([hidden])").length;
document.body.insertAdjacentHTML("beforeend", "<pre id=result></pre>");
document.getElementById("result").textContent = JSON.stringify(result);
</script>"""


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (CI installs it)")
def test_browser_sorts_filters_and_opens_details(tmp_path):
    """Clicks through the page in Chromium (a copy without the CSP, which would block the probe script)."""
    page = render(sample_report())["html"]
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    (tmp_path / "probe.html").write_text(page.replace("</body>", INTERACTIONS + "</body>"), encoding="utf-8")
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          f"file://{tmp_path / 'probe.html'}"], capture_output=True, text=True, timeout=120, check=True)
    found = re.search(r'<pre id="result">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    result = json.loads(found.group(1).replace("&quot;", '"'))
    assert result == {
        "by_status": ["app02", "build03", "gone04", "web01", "db01", "lab-old"],  # worst first
        "by_reserved": ["gone04", "lab-old", "app02", "web01", "build03", "db01"],  # 128 MiB before 256 MiB
        "by_reserved_descending": ["db01", "web01", "build03", "app02", "lab-old", "gone04"],
        "search": ["build03"],
        "without_compliant": ["build03", "app02", "lab-old", "gone04"],  # still by reserved, descending
        "only_error": ["build03"],
        "reset": 6,
        "open": 1,
    }


# --- conflicts ------------------------------------------------------------------------------------

KEXEC_DISABLED = "kernel.kexec_load_disabled=1 (a hardening setting): no capture kernel can be loaded"
MASKED = "the kdump-tools service is masked (/etc/systemd/system/kdump-tools.service links to /dev/null)"


def test_conflicts_are_their_own_status_and_come_first():
    entry = judge(row(facts(conflicts=[KEXEC_DISABLED, MASKED], loaded=False)))
    assert entry["status"] == "conflict"
    assert entry["reasons"] == [KEXEC_DISABLED, MASKED, "capture kernel not loaded (kexec_crash_loaded is not 1)"]
    first = entry["checks"][0]
    assert (first["rule"], first["ok"], first["detail"]) == (
        "nothing defeats kdump whatever the policy says", False, f"{KEXEC_DISABLED}; {MASKED}")
    assert judge(row(facts(conflicts=[])))["status"] == "compliant"
    assert judge(row(facts(conflicts="not a list")))["status"] == "compliant"


def test_conflicts_do_not_matter_when_the_policy_disables_kdump():
    base = disabled_row()
    entry = judge(disabled_row(facts_=dict(base["facts"], conflicts=[KEXEC_DISABLED])))
    assert entry["status"] == "compliant_off" and entry["reasons"] == []


def test_conflict_fails_in_junit_and_counts_as_failing():
    report = build_report(["web01", "web02"], {"web01": row(facts(conflicts=[MASKED])), "web02": row()}, 30, NOW)
    assert report["summary"]["conflict"] == 1 and report["summary"]["compliant"] == 1
    assert [entry["host"] for entry in _report.failing_hosts(report)] == ["web01"]
    suite = ET.fromstring(render(report)["junit"]).find("testsuite")
    assert suite.get("failures") == "1"
    failure = suite.find("testcase[@name='web01']/failure")
    assert (failure.get("type"), failure.get("message")) == ("conflict", MASKED)


# --- proof freshness -----------------------------------------------------------------------------------

PROVED = {"kernel_release": "6.1.0-28-amd64", "capture_checksum": "a" * 64}


def fresh_facts(**changes):
    return merge(with_crash_test(crash_test(**PROVED)), dict({"capture_config": {"checksum": "a" * 64}}, **changes))


def test_a_proof_of_the_running_kernel_and_configuration_is_fresh():
    entry = judge(row(fresh_facts()))
    assert entry["status"] == "compliant" and entry["crash_test_stale"] == []


def test_a_kernel_update_makes_the_proof_stale():
    entry = judge(row(fresh_facts(kernel_release="6.1.0-29-amd64")))
    assert entry["status"] == "noncompliant"
    assert entry["reasons"] == ["kernel updated from 6.1.0-28-amd64 to 6.1.0-29-amd64 since the crash test "
                                "(2026-11-25T10:00:00Z)"]
    assert entry["crash_test_stale"] == entry["reasons"]


def test_a_capture_configuration_change_makes_the_proof_stale():
    entry = judge(row(fresh_facts(capture_config={"checksum": "b" * 64})))
    assert entry["reasons"] == ["capture configuration changed since the crash test (2026-11-25T10:00:00Z): "
                                "checksum aaaaaaaaaaaa then, bbbbbbbbbbbb now"]
    both = judge(row(fresh_facts(kernel_release="6.1.0-29-amd64", capture_config={"checksum": "b" * 64})))
    assert len(both["reasons"]) == 1 and both["reasons"][0].count("since the crash test") == 2


def test_records_without_what_they_proved_and_failed_tests_are_not_called_stale():
    assert judge(row(facts(kernel_release="6.1.0-99-amd64")))["status"] == "compliant"  # an old record
    failed = judge(row(merge(with_crash_test(crash_test(passed=False, **PROVED)),
                             {"kernel_release": "6.1.0-29-amd64"})))
    assert failed["reasons"] == ["last crash test failed (2026-11-25T10:00:00Z): no new dump found (local: /var/crash)"]


def kdumpctl(status, days_ago=2):
    epoch = NOW - days_ago * DAY
    return {"status": status, "epoch": epoch, "time": _report.utc_iso(epoch)}


def test_kdumpctl_test_status_counts_as_the_hosts_record():
    entry = judge(row(dict(facts(), last_crash_test=None, vmcore_creation_status=kdumpctl("success"))))
    assert entry["status"] == "compliant"
    assert entry["last_crash_test"] == {"passed": True, "time": "2026-11-26T10:00:00Z", "epoch": NOW - 2 * DAY,
                                        "reason": "", "source": "kdumpctl test"}
    for status, reason in [
            ("fail", "kdumpctl test found no vmcore where kdump.conf sends it"),
            ("pending", "kdumpctl test crashed the host but the kdump service has not checked for the vmcore since"),
            ("manual", "kdumpctl test could not check its vmcore (raw or unreachable target): check it by hand")]:
        entry = judge(row(dict(facts(), last_crash_test=None, vmcore_creation_status=kdumpctl(status))))
        assert entry["reasons"] == [f"last crash test failed (2026-11-26T10:00:00Z): {reason}"]


def test_the_newer_of_the_two_records_wins():
    newer_failure = dict(facts(), vmcore_creation_status=kdumpctl("fail", days_ago=1))  # ours: 3 days ago
    assert judge(row(newer_failure))["status"] == "noncompliant"
    older_failure = dict(facts(), vmcore_creation_status=kdumpctl("fail", days_ago=10))
    assert judge(row(older_failure))["status"] == "compliant"


# --- capture headroom ----------------------------------------------------------------------------------

def capture(total_kib, lowest_kib):
    return {"last_capture": {"result": "saved", "stamp": "202611250900", "time": "2026-11-25T09:00:00Z",
                             "mem_total_kib": total_kib, "mem_available_min_kib": lowest_kib}}


def test_headroom_from_the_capture_record():
    # 256 MiB = 262144 KiB reserved; used 230000 - 30000 = 200000 KiB; free (262144 - 200000) / 262144
    entry = judge(row(facts(**capture(230000, 30000))))
    assert entry["headroom"] == {"reserved_bytes": 256 * MIB, "used_bytes": 200000 * 1024, "share": 0.237,
                                 "low": False, "reclaimable_bytes": (262144 - 250000) * 1024,
                                 "measured": "2026-11-25T09:00:00Z"}
    assert entry["status"] == "compliant"  # headroom is a warning, not a rule
    assert entry["last_capture"]["mem_available_min_kib"] == 30000


def test_low_headroom_is_flagged_and_nothing_is_reclaimable():
    entry = judge(row(facts(**capture(230000, 10000))))  # used 220000 KiB: 16.1 % free
    assert (entry["headroom"]["share"], entry["headroom"]["low"], entry["headroom"]["reclaimable_bytes"]) == (
        0.161, True, 0)


@pytest.mark.parametrize("total, lowest", [(None, 30000), (230000, None), (1000, 2000), ("x", 1)])
def test_headroom_not_measured(total, lowest):
    assert judge(row(facts(**capture(total, lowest))))["headroom"] is None
    assert judge(row(facts(crashkernel={"reserved_bytes": 0}, **capture(230000, 30000))))["headroom"] is None


def test_fleet_headroom_totals_what_could_be_reclaimed():
    rows = {"roomy": row(facts(**capture(230000, 30000))), "tight": row(facts(**capture(230000, 10000))),
            "big": row(facts(crashkernel={"reserved_bytes": 1024 * MIB}, **capture(1000000, 900000))),
            "unmeasured": row()}
    fleet = build_report(list(rows), rows, 30, NOW)["headroom"]
    # big: 1048576 KiB reserved, 100000 KiB used: 1048576 - 125000 KiB reclaimable
    assert fleet["measured_hosts"] == 3 and fleet["low_hosts"] == ["tight"]
    assert fleet["reserved_bytes"] == (256 + 256 + 1024) * MIB
    assert fleet["reclaimable_bytes"] == (262144 - 250000) * 1024 + 0 + (1048576 - 125000) * 1024
    assert "1.25" in fleet["reclaim_rule"]


# --- crash triage across the fleet ---------------------------------------------------------------------

def triage_fixture(name):
    with open(os.path.join(REPO_ROOT, "tests", "unit", "fixtures", "triage", name), encoding="utf-8") as handle:
        return handle.read()


def dump_with(log, stamp, time):
    return {"path": f"/var/crash/{stamp}/dump.{stamp}", "directory": f"/var/crash/{stamp}", "size": 48 * MIB,
            "time": time, "format": "flattened", "dmesg": f"/var/crash/{stamp}/dmesg.{stamp}",
            "dmesg_has_sysrq_crash": False, "panic_log": log}


def fleet_rows():
    lockup = triage_fixture("dmesg.soft-lockup")
    elsewhere = lockup.replace("spin:1587", "spin:4242").replace("PID: 1587", "PID: 4242").replace("CPU#1", "CPU#3")
    null = triage_fixture("dmesg.null-deref")
    return {
        "web01": row(facts(dumps=[dump_with(lockup, "202611270100", "2026-11-27T01:00:00Z"),
                                  dump_with(null, "202611200100", "2026-11-20T01:00:00Z"),
                                  dump_with(lockup, "202611150100", "2026-11-15T01:00:00Z")])),
        "web02": row(facts(kernel_release="6.1.0-27-amd64",
                           dumps=[dump_with(elsewhere, "202611260100", "2026-11-26T01:00:00Z"),
                                  dump_with(None, "202611100100", "2026-11-10T01:00:00Z")])),
        "db01": row(facts(dumps=[])),
    }


def test_crashes_are_grouped_by_signature_across_hosts():
    report = build_report(["web01", "web02", "db01"], fleet_rows(), 30, NOW)
    lockup, null = report["crashes"]
    assert (lockup["class"], lockup["reason"], lockup["rip"]) == (
        "soft_lockup", "watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [spin:1587]", "spin_write")
    assert lockup["hosts"] == ["web01", "web02"] and lockup["count"] == 3  # web01 twice
    assert (lockup["first_seen"], lockup["last_seen"]) == ("2026-11-15T01:00:00Z", "2026-11-27T01:00:00Z")
    assert lockup["kernel_releases"] == ["6.1.0-27-amd64"]
    assert [d["dump"] for d in lockup["dumps"]] == ["/var/crash/202611270100/dump.202611270100",
                                                    "/var/crash/202611150100/dump.202611150100",
                                                    "/var/crash/202611260100/dump.202611260100"]
    assert (null["class"], null["hosts"], null["count"], null["rip"]) == (
        "null_dereference", ["web01"], 1, "nullmod_store")
    assert null["first_seen"] == null["last_seen"] == "2026-11-20T01:00:00Z"


def test_each_host_shows_its_last_panic():
    report = build_report(["web01", "web02", "db01"], fleet_rows(), 30, NOW)
    web01, web02, db01 = report["hosts"]
    assert web01["last_panic"]["class"] == "soft_lockup" and web01["last_panic"]["time"] == "2026-11-27T01:00:00Z"
    assert web01["last_panic"]["dump"] == "/var/crash/202611270100/dump.202611270100"
    assert web02["last_panic"]["pid"] == 4242 and web02["last_panic"]["signature"] == web01["last_panic"]["signature"]
    assert db01["last_panic"] is None


def test_the_kernel_log_itself_stays_out_of_the_report():
    files = render(build_report(["web01", "web02"], fleet_rows(), 30, NOW))
    for kind, content in files.items():
        assert "Hardware name: QEMU" not in content and "RSP: 0018" not in content, kind
    page = files["html"]
    signature = build_report(["web01"], fleet_rows(), 30, NOW)["crashes"][0]["signature"]
    assert f'id="crash-{signature}"' in page and f'href="#crash-{signature}"' in page
    assert "watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [spin:1587]" in page


def test_a_report_with_every_new_field_renders_with_hostile_text():
    hostile = row(facts(conflicts=[HOSTILE], dumps=[dump_with(
        f"[  1.0] Kernel panic - not syncing: {HOSTILE}\n", "202611270100", HOSTILE)], **capture(230000, 10000)))
    report = build_report(["evil"], {"evil": hostile}, 30, NOW)
    page = render(report)["html"]
    assert "<script>alert" not in page and "<img" not in page
    assert report["hosts"][0]["status"] == "conflict" and report["crashes"][0]["class"] == "panic"


def extended_report():
    rows = dict(fleet_rows())
    rows["hard01"] = row(facts(conflicts=[KEXEC_DISABLED], **capture(230000, 10000)))
    rows["stale01"] = row(fresh_facts(kernel_release="6.1.0-29-amd64"))
    return build_report(list(rows), rows, 30, NOW)


def test_html_of_the_new_sections():
    page = render(extended_report())["html"]
    assert '<h2 id="crashes">Crashes across the fleet</h2>' in page
    assert '<h2 id="headroom">Capture headroom</h2>' in page
    assert 'data-host="hard01" data-status="conflict"' in page
    assert '<span class="badge conflict">conflict</span>' in page
    assert "&#x26A0; stale" in page and "under 20% free at the peak" in page


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (CI installs it)")
def test_browser_shows_the_conflict_host_and_the_new_sections(tmp_path):
    html = write_report(tmp_path / "report", extended_report())
    passed = browser_check(html)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "5 host(s) shown once each" in passed.stdout


# --- panic triggers ------------------------------------------------------------------------------------

PANIC_RULE = "panic triggers as the policy sets them"
RUNNING = {"kernel.panic_on_oops": 1, "kernel.hung_task_panic": 0, "kernel.softlockup_panic": 0,
           "kernel.hardlockup_panic": None, "kernel.panic_on_unrecovered_nmi": 0}


def panic_check(entry):
    return next((c for c in entry["checks"] if c["rule"] == PANIC_RULE), None)


def test_running_panic_triggers_as_the_policy_sets_them_are_compliant():
    entry = judge(row(facts(panic_sysctls=RUNNING),
                      plan(sysctls={"kernel.panic_on_oops": 1, "kernel.softlockup_panic": 0})))
    assert entry["status"] == "compliant"
    assert panic_check(entry) == {"rule": PANIC_RULE, "ok": True, "detail": ""}


def test_a_running_panic_trigger_other_than_the_policy_is_noncompliant():
    entry = judge(row(facts(panic_sysctls=dict(RUNNING, **{"kernel.softlockup_panic": 0})),
                      plan(sysctls={"kernel.panic_on_oops": 0, "kernel.softlockup_panic": 1,
                                    "kernel.hardlockup_panic": 1})))
    assert entry["status"] == "noncompliant"
    reasons = ["kernel.panic_on_oops is 1, the policy wants 0", "kernel.softlockup_panic is 0, the policy wants 1",
               "kernel.hardlockup_panic does not exist on this kernel, the policy wants 1"]
    assert entry["reasons"] == ["; ".join(reasons)]
    assert panic_check(entry) == {"rule": PANIC_RULE, "ok": False, "detail": "; ".join(reasons)}


def test_panic_triggers_count_when_kdump_is_off_too():
    base = disabled_row()
    off = row(dict(base["facts"], panic_sysctls=RUNNING), dict(base["plan"], sysctls={"kernel.hung_task_panic": 1}),
              base["check"], base["policy"])
    entry = judge(off)
    assert entry["status"] == "noncompliant" and entry["reasons"] == ["kernel.hung_task_panic is 0, the policy wants 1"]


def test_no_panic_rule_when_the_policy_leaves_the_triggers_alone():
    entry = judge(row(facts(panic_sysctls=RUNNING), plan(sysctls={})))
    assert panic_check(entry) is None and entry["status"] == "compliant"
    assert panic_check(judge(row())) is None  # a plan from before panic_on


def test_facts_without_the_readings_cannot_prove_a_trigger():
    entry = judge(row(facts(), plan(sysctls={"kernel.panic_on_oops": 1})))
    assert entry["reasons"] == ["kernel.panic_on_oops is not reported by kdump_facts, the policy wants 1"]


def test_panic_triggers_shown_with_running_and_wanted_values():
    entry = judge(row(facts(panic_sysctls=RUNNING), plan(sysctls={"kernel.softlockup_panic": 1})))
    assert entry["panic_triggers"] == [
        {"trigger": "oops", "sysctl": "kernel.panic_on_oops", "running": 1, "policy": None},
        {"trigger": "hung_task", "sysctl": "kernel.hung_task_panic", "running": 0, "policy": None},
        {"trigger": "soft_lockup", "sysctl": "kernel.softlockup_panic", "running": 0, "policy": 1},
        {"trigger": "hard_lockup", "sysctl": "kernel.hardlockup_panic", "running": None, "policy": None},
        {"trigger": "unrecovered_nmi", "sysctl": "kernel.panic_on_unrecovered_nmi", "running": 0, "policy": None}]
    assert judge(row())["panic_triggers"] == []  # facts without the readings: nothing to show
    page = render(build_report(["web01"], {"web01": row(facts(panic_sysctls=RUNNING),
                                                       plan(sysctls={"kernel.softlockup_panic": 1}))}, 30, NOW))["html"]
    section = re.search(r"<h3>Panic triggers</h3>(.*?)</dl>", page, re.S).group(1)
    items = re.findall(r"<dt>(.*?)</dt><dd([^>]*)>(.*?)</dd>", section, re.S)
    assert [(dt, " ".join(dd.split())) for dt, dummy, dd in items] == [
        ("oops", "panics (kernel.panic_on_oops = 1), not set by the policy"),
        ("hung task", "does not panic (kernel.hung_task_panic = 0), not set by the policy"),
        ("soft lockup", "does not panic (kernel.softlockup_panic = 0), the policy wants 1"),
        ("hard lockup", "not on this kernel (no kernel.hardlockup_panic)"),
        ("unrecovered nmi", "does not panic (kernel.panic_on_unrecovered_nmi = 0), not set by the policy")]
    assert 'class="bad"' in items[2][1] and 'class="good"' not in items[2][1]
