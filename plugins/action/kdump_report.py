# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for crashdump.kdump.kdump_report (documentation: plugins/modules/kdump_report.py).

Runs on the controller only and never contacts a host: it turns the rows the report playbook
gathered into the compliance report, written as HTML, JSON and JUnit XML into a directory of
the controller.
"""

from __future__ import annotations

import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.crashdump.kdump.plugins.module_utils._argspec import KDUMP_REPORT
from ansible_collections.crashdump.kdump.plugins.plugin_utils._report import (
    FILE_NAMES,
    build_report,
    failing_hosts,
    render,
)

FILE_MODE = 0o644  # the report holds no secret
DIR_MODE = 0o755


def write_if_changed(path, content):
    """Write content to path through a temp file in the same directory and a rename, so a reader
    never sees half a report; leave the file alone when it already holds content. Returns changed."""
    data = content.encode("utf-8")
    try:
        with open(path, "rb") as handle:
            if handle.read() == data and os.stat(path).st_mode & 0o777 == FILE_MODE:
                return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".kdump-report-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def file_would_change(path, content):
    try:
        with open(path, "rb") as handle:
            return handle.read() != content.encode("utf-8") or os.stat(path).st_mode & 0o777 != FILE_MODE
    except FileNotFoundError:
        return True


class ActionModule(ActionBase):
    """Write the kdump compliance report of a set of hosts on the controller."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp  # no effect since ansible-core 2.x; kept for the signature

        dummy, args = self.validate_argument_spec(**KDUMP_REPORT)
        if args["max_age_days"] < 0:
            raise AnsibleActionFail(f"max_age_days must be 0 or more, got {args['max_age_days']}")
        dest = os.path.abspath(args["dest"])
        if os.path.exists(dest) and not os.path.isdir(dest):
            raise AnsibleActionFail(f"dest {dest} exists and is not a directory")

        report = build_report(args["hosts"], args["rows"], args["max_age_days"], args["now"], args["title"])
        contents = render(report)
        files = {kind: os.path.join(dest, name) for kind, name in FILE_NAMES.items()}

        if self._task.check_mode:
            changed = not os.path.isdir(dest) or any(file_would_change(files[k], contents[k]) for k in files)
        else:
            try:
                changed = self._make_dest(dest)
                for kind, path in files.items():
                    changed = write_if_changed(path, contents[kind]) or changed
            except OSError as exc:
                raise AnsibleActionFail(f"could not write the kdump report in {dest}: {exc}") from exc

        summary = report["summary"]
        failing = failing_hosts(report)
        result.update(
            changed=changed,
            summary=summary,
            files=files,
            hosts=[{key: entry[key] for key in ("host", "status", "reasons")} for entry in report["hosts"]],
            msg=f"{summary['compliant'] + summary['compliant_off']} of {summary['total']} host(s) compliant, "
                f"report in {files['html']}",
        )
        if args["fail_on_noncompliant"] and failing:
            result.update(failed=True, msg="not compliant with kdump_policy: " + "; ".join(
                f"{entry['host']} ({entry['status']}: {entry['reasons'][0]})" for entry in failing))
        return result

    @staticmethod
    def _make_dest(dest):
        if os.path.isdir(dest):
            return False
        os.makedirs(dest, mode=DIR_MODE)
        os.chmod(dest, DIR_MODE)  # makedirs's mode is filtered by the umask
        return True
