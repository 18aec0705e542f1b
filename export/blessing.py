"""Blessing: publish a candidate only if its digits are good, and no worse than the baseline.

The baseline is passed in: a version number, "newest" (the newest published
version with quality metrics, the default) or None (thresholds only). The CLI
also resolves a TF Serving label to its version (``--baseline stable``); this
layer never reads a deployment file. The gate uses the fast metrics (label
accuracy, Fréchet distance, coverage); CAS is left to ``model-pkg evaluate --cas``.
"""

import dataclasses
import os

from model_pkg.export.manifest import IntegrityError, verify_version
from model_pkg.export.publish import list_versions


class BlessingError(RuntimeError):
    """The candidate failed the quality gate; nothing was published."""


@dataclasses.dataclass(frozen=True)
class BlessingPolicy:
    # Absolute thresholds, loose enough for the seed model (its numbers: docs/quality.md).
    min_label_accuracy: float = 0.98
    min_worst_label_accuracy: float = 0.95
    max_frechet_ratio: float = 6.0          # Fréchet distance / its real-vs-real floor
    min_coverage_ratio: float = 0.80        # coverage / its real-vs-real value
    # No worse than the baseline beyond these.
    label_accuracy_tolerance: float = 0.005     # absolute
    frechet_ratio_tolerance: float = 0.15       # relative: up to 1.15 x the baseline's
    coverage_ratio_tolerance: float = 0.03      # absolute


def find_baseline(root, baseline="newest", log=print):
    """(version, quality metrics) of the baseline, or (None, None) when there is none.

    ``baseline``: a published version number (it must verify and hold metrics),
    "newest", or None. With "newest", a newest version that fails verification
    (damaged, unsigned or signed by an untrusted key) stops the gate: skipping it
    would quietly lower the bar to an older version. A verified version without
    metrics (exported with --skip-quality) is skipped, and the log says so.
    """
    if baseline is None:
        return None, None
    if baseline != "newest":
        baseline = _version_number(baseline)
        manifest = verify_version(os.path.join(root, str(baseline)))
        if not manifest.get("quality"):
            raise BlessingError(f"baseline version {baseline} has no quality metrics")
        return int(baseline), manifest["quality"]
    for version in list_versions(root)[::-1]:
        try:
            quality = verify_version(os.path.join(root, str(version))).get("quality")
        except IntegrityError as err:
            raise BlessingError(
                f"version {version}, the newest candidate for the baseline, fails "
                f"verification; an older baseline would lower the bar: {err}. Repair or remove "
                "it, or name the baseline: --baseline N (a version that verifies) or "
                "--baseline none") from err
        if quality:
            return version, quality
        log(f"baseline: version {version} has no quality metrics (exported without the "
            "gate); looking at the next older version")
    return None, None


def _version_number(baseline):
    """``baseline`` as a version number >= 1 (an int or its digits); bool is refused."""
    if isinstance(baseline, str) and baseline.isdigit():   # ASCII digits only below
        baseline = int(baseline) if baseline.isascii() else baseline
    if isinstance(baseline, bool) or not isinstance(baseline, int) or baseline < 1:
        raise BlessingError(f"baseline {baseline!r}: must be a version number >= 1, 'newest' "
                            "or None")
    return baseline


def decide(candidate, baseline, policy=BlessingPolicy()):
    """{"blessed", "reasons"}: every threshold or tolerance the candidate breaks."""
    p, c = policy, candidate
    reasons = []
    checks = [
        (c["label_accuracy"] >= p.min_label_accuracy, "label accuracy", c["label_accuracy"],
         f">= {p.min_label_accuracy}"),
        (c["worst_label_accuracy"] >= p.min_worst_label_accuracy, "worst-label accuracy",
         c["worst_label_accuracy"], f">= {p.min_worst_label_accuracy}"),
        (c["frechet_ratio"] <= p.max_frechet_ratio, "Fréchet ratio", c["frechet_ratio"],
         f"<= {p.max_frechet_ratio}"),
        (c["coverage_ratio"] >= p.min_coverage_ratio, "coverage ratio", c["coverage_ratio"],
         f">= {p.min_coverage_ratio}"),
    ]
    if baseline:
        b = baseline
        checks += [
            (c["label_accuracy"] >= b["label_accuracy"] - p.label_accuracy_tolerance,
             "label accuracy vs baseline", c["label_accuracy"],
             f">= {b['label_accuracy']:.4f} - {p.label_accuracy_tolerance}"),
            (c["frechet_ratio"] <= b["frechet_ratio"] * (1 + p.frechet_ratio_tolerance),
             "Fréchet ratio vs baseline", c["frechet_ratio"],
             f"<= {b['frechet_ratio']:.3f} x {1 + p.frechet_ratio_tolerance}"),
            (c["coverage_ratio"] >= b["coverage_ratio"] - p.coverage_ratio_tolerance,
             "coverage ratio vs baseline", c["coverage_ratio"],
             f">= {b['coverage_ratio']:.3f} - {p.coverage_ratio_tolerance}"),
        ]
    for ok, name, value, rule in checks:
        if not ok:
            reasons.append(f"{name} {value:.4f}, must be {rule}")
    return {"blessed": not reasons, "reasons": reasons, "policy": dataclasses.asdict(policy)}


def bless(candidate, root, baseline="newest", force_reason=None, log=print):
    """The manifest's "blessing" record; raises BlessingError unless blessed or forced."""
    version, baseline = find_baseline(root, baseline, log)
    decision = decide(candidate, baseline) | {"baseline_version": version,
                                              "baseline_quality": baseline}
    if decision["blessed"]:
        return decision | {"forced": False}
    if not force_reason:
        raise BlessingError("not published, the candidate fails the quality gate: "
                            + "; ".join(decision["reasons"])
                            + " (use --force --reason '...' to publish anyway)")
    log("WARNING: publishing a version that FAILS the quality gate (--force): "
        + "; ".join(decision["reasons"]) + f". Reason given: {force_reason}")
    return decision | {"forced": True, "force_reason": force_reason}
