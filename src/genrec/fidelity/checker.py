"""The fidelity checker: runs the policy's enabled checks and aggregates them into one report per item.

An item's verdict is the worst of its checks' verdicts; a check blocks only when the policy lets
it (``blocking``) and one of its findings has a blocking code. A check that raises gives the
policy's ``on_error`` verdict (block by default: fail closed) with the error as its finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from genrec.data.generated import GeneratedItem
from genrec.fidelity.authenticity import AuthenticityCheck
from genrec.fidelity.base import Check, CheckContext, CheckResult, FidelityReport, Finding, worst
from genrec.fidelity.bias import BiasCheck
from genrec.fidelity.identifiability import IdentifiabilityCheck
from genrec.fidelity.integrity import IntegrityCheck
from genrec.fidelity.legal import LegalCheck
from genrec.fidelity.policy import Policy, load_policy
from genrec.fidelity.privacy import PrivacyCheck
from genrec.fidelity.safety import SafetyCheck
from genrec.fidelity.shilling import ShillingCheck
from genrec.registry import Registry

#: Check classes by the name the policy uses.
CHECKS: Registry[type[Check]] = Registry("fidelity check")
CHECKS.register("bias", BiasCheck)
CHECKS.register("privacy", PrivacyCheck)
CHECKS.register("safety", SafetyCheck)
CHECKS.register("authenticity", AuthenticityCheck)
CHECKS.register("legal", LegalCheck)
CHECKS.register("identifiability", IdentifiabilityCheck)
CHECKS.register("shilling", ShillingCheck)
CHECKS.register("integrity", IntegrityCheck)


class FidelityChecker:
    """Checks generated items against a policy (the packaged default, a TOML path, or a Policy)."""

    def __init__(self, policy: Policy | str | Path | None = None) -> None:
        self.policy = policy if isinstance(policy, Policy) else load_policy(policy)
        self.checks: list[Check] = [CHECKS.get(name)(self.policy.settings(name)) for name in self.policy.enabled()]
        for check in self.checks:
            check.validate()  # a broken rules or lexicon file fails here, not on the first item

    def check(self, item: GeneratedItem, ctx: CheckContext | None = None, attach: bool = True) -> FidelityReport:
        """The report on one item (stored in ``item.fidelity`` as a plain dict when ``attach``)."""
        return self.check_many([item], ctx, attach)[0]

    def check_many(
        self, items: Sequence[GeneratedItem], ctx: CheckContext | None = None, attach: bool = True
    ) -> list[FidelityReport]:
        """Reports on many items; checks with batched models (the safety classifier) run once per batch."""
        ctx = ctx or CheckContext()
        results: list[dict[str, CheckResult]] = [{} for _ in items]
        for check in self.checks:
            for i, result in enumerate(self._run(check, items, ctx)):
                results[i][check.name] = result
        reports = []
        for item, res in zip(items, results):
            report = FidelityReport(item.item_id, worst(r.verdict for r in res.values()), res, self.policy.name)
            if attach:
                item.fidelity = report.to_dict()
            reports.append(report)
        return reports

    def _run(self, check: Check, items: Sequence[GeneratedItem], ctx: CheckContext) -> list[CheckResult]:
        try:
            return check.run_many(items, ctx)
        except Exception:  # isolate the failing item(s); the others still get real results
            out = []
            for item in items:
                try:
                    out.append(check.run(item, ctx))
                except Exception as exc:
                    msg = f"the check failed: {type(exc).__name__}: {exc}"
                    out.append(
                        CheckResult(
                            check.name,
                            self.policy.on_error,
                            1.0,
                            [Finding("error", msg, "check", severity=self.policy.on_error)],
                        )
                    )
            return out
