"""The audit report reads pip-audit's and npm audit's JSON right, and never calls an
unaudited package clean (the services themselves are not reachable from CI)."""

from tools import audit

PIP = {"dependencies": [
    {"name": "requests", "version": "2.1.0", "vulns": [
        {"id": "PYSEC-2014-13", "fix_versions": ["2.3.0"], "aliases": []}]},
    {"name": "numpy", "version": "2.4.6", "vulns": []},
    {"name": "keras", "skip_reason": "Dependency not found on PyPI and could not be audited: "
                                     "keras (3.15.1)"}]}
NPM = {"auditReportVersion": 2, "vulnerabilities": {
    "protobufjs": {"name": "protobufjs", "severity": "critical",
                   "via": [{"title": "Prototype Pollution", "url": "https://x"}]},
    "onnxruntime-web": {"name": "onnxruntime-web", "severity": "critical",
                        "via": ["protobufjs"]}}}


def test_pip_audit_json_is_summarised_package_by_package():
    summary = audit.summarize_pip(PIP)
    assert summary["audited"] == 2 and summary["not_audited"] == 1
    assert summary["vulnerable"] == [("requests", "2.1.0", "PYSEC-2014-13", ["2.3.0"])]
    text = audit.markdown(summary, audit.summarize_npm(NPM))
    assert "**requests 2.1.0**: PYSEC-2014-13, fixed in 2.3.0" in text
    assert "**protobufjs** (critical): Prototype Pollution" in text
    assert "**onnxruntime-web** (critical): protobufjs" in text


def test_nothing_audited_is_never_reported_as_clean():
    nothing = {"dependencies": [{"name": "keras", "skip_reason": "Dependency not found on PyPI "
                                                                 "and could not be audited: x"}]}
    npm_down = {"error": {"summary": "405 Method Not Allowed - POST https://registry"}}
    text = audit.markdown(audit.summarize_pip(nothing), audit.summarize_npm(npm_down))
    assert "0 packages audited, 1 could not be" in text
    assert "no known vulnerability" not in text
    assert "Not audited: npm audit failed (405 Method Not Allowed" in text
