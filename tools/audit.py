"""``make audit``: known vulnerabilities in the locked dependencies, as a report (never a gate).

Runs pip-audit over requirements.lock and ``npm audit`` over the web page's
package-lock.json, and writes what they found, dependency by dependency, to
artifacts/audit/audit.md (and .json). New advisories appear every week, so
this is a report a person reads, like BENCHMARKS.md, not a CI check that
turns red on its own; .github/workflows/audit.yml runs it weekly. Where a
service cannot be reached, the report says so for each package instead of
claiming it is clean.

    python -m tools.audit [--out-dir DIR]
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_pip_audit(lock):
    """pip-audit's JSON for ``lock``, or {"error": ...} when it could not run."""
    # The lock pins every package: audit the pins as they are, install nothing.
    out = subprocess.run([sys.executable, "-m", "pip_audit", "-r", lock, "--no-deps",
                          "--disable-pip", "--format", "json", "--progress-spinner", "off"],
                         capture_output=True, text=True, timeout=900)
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]}


def run_npm_audit(folder):
    """npm audit's JSON for ``folder``'s package-lock.json, or {"error": ...}."""
    out = subprocess.run(["npm", "audit", "--json", "--package-lock-only"], cwd=folder,
                         capture_output=True, text=True, timeout=600)
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {"error": [(out.stderr or "no output").strip()[-300:]]}


def summarize_pip(report):
    """{"audited", "not_audited", "vulnerable": [(name, version, id, fix versions)]}."""
    if "error" in report:
        return {"audited": 0, "not_audited": None, "vulnerable": [], "error": report["error"]}
    deps = report.get("dependencies", [])
    vulnerable = [(d["name"], d.get("version"), v["id"], v.get("fix_versions", []))
                  for d in deps for v in d.get("vulns", [])]
    skipped = [d for d in deps if "skip_reason" in d]
    return {"audited": len(deps) - len(skipped), "not_audited": len(skipped),
            "vulnerable": vulnerable,
            "skip_reasons": sorted({d["skip_reason"].split(":")[0] for d in skipped})}


def summarize_npm(report):
    """{"vulnerable": [(name, severity, via)], "error"?} from npm audit's JSON (v7+ format)."""
    if "vulnerabilities" not in report:
        error = report.get("error")
        if isinstance(error, dict):
            error = error.get("summary") or error.get("detail")
        return {"vulnerable": [], "error": error or report.get("message") or "no report"}
    found = [(name, v.get("severity"), ", ".join(
        via if isinstance(via, str) else via.get("title", "") for via in v.get("via", [])))
        for name, v in sorted(report.get("vulnerabilities", {}).items())]
    return {"vulnerable": found}


def markdown(pip, npm):
    lines = ["# Dependency audit", "", "## Python (pip-audit over requirements.lock)", ""]
    if pip.get("error"):
        lines.append(f"Not audited: pip-audit failed ({pip['error']}).")
    else:
        lines.append(f"{pip['audited']} packages audited, {pip['not_audited']} could not be "
                     + (f"({'; '.join(pip['skip_reasons'])})." if pip['not_audited'] else "."))
        lines += [f"- **{n} {v}**: {i}, fixed in {', '.join(f) or 'no release yet'}"
                  for n, v, i, f in pip["vulnerable"]] or (
            ["- no known vulnerability in the audited packages"] if pip["audited"] else [])
    lines += ["", "## JavaScript (npm audit over serving/web/package-lock.json)", ""]
    if npm.get("error"):
        lines.append(f"Not audited: npm audit failed ({npm['error']}).")
    else:
        lines += [f"- **{n}** ({s}): {via}" for n, s, via in npm["vulnerable"]] or [
            "- no known vulnerability"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.audit",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=os.path.join("artifacts", "audit"))
    args = parser.parse_args(argv)
    pip = summarize_pip(run_pip_audit(os.path.join(ROOT, "requirements.lock")))
    npm = summarize_npm(run_npm_audit(os.path.join(ROOT, "serving", "web")))
    os.makedirs(args.out_dir, exist_ok=True)
    text = markdown(pip, npm)
    with open(os.path.join(args.out_dir, "audit.md"), "w") as handle:
        handle.write(text)
    with open(os.path.join(args.out_dir, "audit.json"), "w") as handle:
        json.dump({"python": pip, "javascript": npm}, handle, indent=2, default=list)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
