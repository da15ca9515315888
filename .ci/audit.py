"""`make audit`: pip-audit over every pinned version in requirements.lock; fails on any known vulnerability.

It also says how many packages the vulnerability service could answer for. When it answered for none (a registry
mirror without PyPI's per-version JSON API), the audit proved nothing: that fails too with AUDIT_STRICT=1, and is
reported loudly without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "audit.json"
        command = [
            str(pip_audit),
            "--no-deps",  # requirements.lock pins every transitive version already
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--requirement",
            str(ROOT / "requirements.lock"),
            "--format",
            "json",
            "--output",
            str(report),
        ]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if not report.exists():
            sys.stderr.write(finished.stderr)
            print("audit: pip-audit did not finish", file=sys.stderr)
            return 2
        dependencies = json.loads(report.read_text())["dependencies"]
    skipped = [dep for dep in dependencies if "skip_reason" in dep]
    vulnerable = [dep for dep in dependencies if dep.get("vulns")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            print(f"VULNERABLE {dep['name']}=={dep['version']}: {vuln['id']} (fixed in {fixed})")
    audited = len(dependencies) - len(skipped)
    print(
        f"audit: {len(dependencies)} pinned packages, {audited} audited, {len(skipped)} not answered for, "
        f"{sum(len(dep['vulns']) for dep in vulnerable)} known vulnerabilities"
    )
    if vulnerable:
        return 1
    if skipped and audited == 0:
        print("audit: INCOMPLETE - the vulnerability service answered for no package; nothing was proven")
        return 1 if os.environ.get("AUDIT_STRICT") == "1" else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
