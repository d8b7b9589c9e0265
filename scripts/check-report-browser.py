#!/usr/bin/env python
"""Open a kdump compliance report in headless Chromium and check what a person would see.

After the page's script ran (it marks <html data-ready="true">), the host table must hold every
expected host exactly once, shown, with the expected status (the row's data-status, its status
cell's class and its badge text), and no other host.

    python scripts/check-report-browser.py REPORT.html web01=compliant db01=noncompliant ...
    python scripts/check-report-browser.py REPORT.html --json REPORT.json --screenshot report.png
    python scripts/check-report-browser.py REPORT.html     # expects what kdump-report.json next to it says

Exits 0 when everything matches, 1 with one line per problem otherwise, 2 when Chromium fails.
"""

from __future__ import annotations

import argparse
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
TIMEOUT = 120


class HostRows(html.parser.HTMLParser):
    """The host rows of the dumped DOM: host, data-status, status cell class, badge text, hidden."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ready = False
        self.rows = []
        self.row = None
        self.tbody_hidden = False
        self.in_status_cell = False
        self.in_badge = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "html":
            self.ready = attrs.get("data-ready") == "true"
        elif tag == "tbody":
            self.tbody_hidden = "hidden" in attrs
        elif tag == "tr" and "data-host" in attrs:
            self.row = {"host": attrs["data-host"], "status": attrs.get("data-status"), "cell": None,
                        "badge": "", "hidden": self.tbody_hidden or "hidden" in attrs}
            self.rows.append(self.row)
        elif tag == "td" and self.row is not None and "status" in classes:
            self.in_status_cell = True
            self.row["cell"] = next((c[len("status-"):] for c in classes if c.startswith("status-")), None)
        elif tag == "span" and self.in_status_cell and "badge" in classes:
            self.in_badge = True

    def handle_endtag(self, tag):
        if tag == "span":
            self.in_badge = False
        elif tag == "td":
            self.in_status_cell = False
        elif tag == "tr":
            self.row = None
        elif tag == "tbody":
            self.tbody_hidden = False

    def handle_data(self, data):
        if self.in_badge:
            self.row["badge"] += data


def chromium(binary, profile, *args):
    command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"chromium failed: {exc}", file=sys.stderr)
        sys.exit(2)
    if result.returncode != 0:
        print(f"chromium failed (exit {result.returncode}):\n{result.stderr[-3000:]}", file=sys.stderr)
        sys.exit(2)
    return result.stdout


def expectations(args):
    """{host: status} from HOST=STATUS pairs, else from the JSON report."""
    if args.expect:
        pairs = [item.rpartition("=") for item in args.expect]
        bad = [item for item, (host, eq, status) in zip(args.expect, pairs) if not eq or not host or not status]
        if bad:
            sys.exit(f"expected HOST=STATUS, got: {', '.join(bad)}")
        return {host: status for host, dummy, status in pairs}
    path = args.json or os.path.join(os.path.dirname(os.path.abspath(args.html)), "kdump-report.json")
    try:
        with open(path, encoding="utf-8") as handle:
            return {entry["host"]: entry["status"] for entry in json.load(handle)["hosts"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"no expectations: give HOST=STATUS pairs or --json REPORT.json ({path}: {exc})")


def problems(rows, expected):
    found = {}
    for row in rows:
        found.setdefault(row["host"], []).append(row)
    for host, status in expected.items():
        seen = found.get(host, [])
        if len(seen) != 1:
            yield f"{host}: {len(seen)} rows in the table, expected 1"
            continue
        row = seen[0]
        shown = {"data-status": row["status"], "status cell class": row["cell"], "badge": row["badge"].strip()}
        for what, value in shown.items():
            if value != status:
                yield f"{host}: {what} is {value!r}, expected {status!r}"
        if row["hidden"]:
            yield f"{host}: the row is hidden after the page loaded"
    for host in sorted(set(found) - set(expected)):
        yield f"{host}: in the table but not expected"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", help="the kdump-report.html to open")
    parser.add_argument("expect", nargs="*", metavar="HOST=STATUS", help="expected hosts and statuses")
    parser.add_argument("--json", help="take the expected hosts and statuses from this JSON report")
    parser.add_argument("--screenshot", metavar="PNG", help="also save a 1400x1000 screenshot of the page")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium binary (%(default)s)")
    args = parser.parse_args()
    if not os.path.isfile(args.html):
        sys.exit(f"{args.html}: no such file")
    if not (os.path.isfile(args.chromium) or shutil.which(args.chromium)):
        sys.exit(f"{args.chromium}: not found (apt-get install chromium)")
    expected = expectations(args)
    url = "file://" + os.path.abspath(args.html)

    with tempfile.TemporaryDirectory(prefix="kdump-report-chromium-") as profile:
        dom = chromium(args.chromium, profile, "--dump-dom", url)
        if args.screenshot:
            chromium(args.chromium, profile, f"--screenshot={os.path.abspath(args.screenshot)}",
                     "--window-size=1400,1000", "--hide-scrollbars", url)

    rows = HostRows()
    rows.feed(dom)
    found = list(problems(rows.rows, expected))
    if not rows.ready:
        found.insert(0, "the page's script did not finish (no data-ready=\"true\" on <html>)")
    if found:
        print(f"{args.html}: {len(found)} problem(s) in the browser:", *found, sep="\n  ", file=sys.stderr)
        return 1
    print(f"{args.html}: {len(expected)} host(s) shown once each with the expected status")
    return 0


if __name__ == "__main__":
    sys.exit(main())
