"""``make audit``: known vulnerabilities in the locked dependencies (pip-audit).

pip-audit reports a dependency it could not look up as "skipped" and still exits 0 with "No known
vulnerabilities found", which reads like a clean bill of health. Here a run that could look up
nothing says SKIPPED in capitals; a partial one lists what was not checked.
Exit codes: 0 clean or skipped, 1 vulnerabilities found, 2 pip-audit itself failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        # The lock pins every package, dependencies included: no resolution, no virtualenv built.
        cmd = [sys.executable, "-m", "pip_audit", "-r", str(LOCK), "--no-deps", "--disable-pip",
               "--progress-spinner", "off", "--format", "json", "--output", str(report)]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if not report.exists():
            print(run.stdout + run.stderr, file=sys.stderr)
            print("audit: pip-audit failed before producing a report", file=sys.stderr)
            return 2
        data = json.loads(report.read_text())
    deps = data.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    vulnerable = [d for d in deps if d.get("vulns")]
    checked = len(deps) - len(skipped)
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixes})")
    if deps and checked == 0:
        print(f"audit: SKIPPED — the vulnerability data could not be reached for any of the {len(deps)} "
              f"locked packages (first reason: {skipped[0]['skip_reason']}). Nothing was checked.")
        return 0
    if skipped:
        names = ", ".join(d["name"] for d in skipped)
        print(f"audit: {len(skipped)} package(s) NOT checked: {names}")
    print(f"audit: {checked} package(s) checked, {len(vulnerable)} with known vulnerabilities.")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
