"""Quality bands: per dataset, thresholds on a staged result sort it into pass, warn or fail.

pass -> published without a reviewer (when the dataset's policy says `on_pass: publish`),
warn -> waits for a reviewer, whose page lists the thresholds that fired,
fail -> rejected, with the fired thresholds as the reason.

The policies come from configuration (Terraform's `dataset_policies`, passed as JSON in ETL_DATASET_POLICIES),
validated here when a function starts. Without any, every job waits for a reviewer, as before. Evaluation is
a pure function of the staged counts, reject reasons, columns and the changes since the last published
version; its result (small) is stored with the job and every decision it makes names the policy's version.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from etl_aws import contract as C

Band = Literal["pass", "warn", "fail"]
Action = Literal["publish", "review", "reject"]
OnTimeout = Literal["expire", "reject", "approve_if_policy_passes"]
ANY_REASON = "*"  # in `reject_reasons`: a row rejected for any reason fires the threshold


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Thresholds(_Strict):
    """What fires a band. Each threshold is optional; one that is not set never fires."""

    max_reject_rate: float | None = Field(
        default=None, ge=0, le=1, description="rejected rows / all rows above this fires (0.05 = 5 %)"
    )
    max_row_change: float | None = Field(
        default=None,
        ge=0,
        description="valid records changed by more than this fraction of the last published version's, "
        "up or down (0.25 = ±25 %); never fires on a dataset's first publication",
    )
    required_columns: tuple[str, ...] = Field(
        default=(), max_length=32, description="a column missing from the staged result fires"
    )
    reject_reasons: tuple[str, ...] = Field(
        default=(),
        max_length=16,
        description=f"a row rejected for one of these reasons fires ({ANY_REASON!r}: any)",
    )

    def count(self) -> int:
        """How many thresholds are set."""
        return sum(
            (
                self.max_reject_rate is not None,
                self.max_row_change is not None,
                bool(self.required_columns),
                bool(self.reject_reasons),
            )
        )


class DatasetPolicy(_Strict):
    """One dataset's policy. The default instance is today's behaviour: everything waits, expiry expires."""

    on_pass: Literal["review", "publish"] = "review"  # noqa: S105 (a band's action, no password)
    warn: Thresholds = Thresholds()
    fail: Thresholds = Thresholds()
    on_timeout: OnTimeout = "expire"


class Policies(_Strict):
    """The whole configuration: a version recorded with every decision, a default, per-dataset entries."""

    version: str = Field(default="default", min_length=1, max_length=64, pattern=r"^[\w.:-]+$")
    default: DatasetPolicy = DatasetPolicy()
    datasets: dict[str, DatasetPolicy] = Field(default_factory=dict, max_length=64)

    def for_dataset(self, dataset: str) -> DatasetPolicy:
        """The dataset's own entry, else the default."""
        return self.datasets.get(dataset, self.default)

    @classmethod
    def from_json(cls, text: str | None) -> Policies:
        """Parse ETL_DATASET_POLICIES; empty means no policies (everything waits). Raises ValueError."""
        if not text or not text.strip():
            return cls()
        if len(text.encode()) > C.MAX_DATASET_POLICIES_BYTES:
            raise ValueError(
                f"is {len(text.encode()):,} bytes; at most {C.MAX_DATASET_POLICIES_BYTES:,} "
                "(Lambda allows 4 KB for all of a function's environment variables together)"
            )
        return cls.model_validate_json(text)


class Fired(_Strict):
    """One threshold that fired: which, in which band, and why in words a reviewer reads."""

    threshold: str
    band: Literal["warn", "fail"]
    reason: str = Field(max_length=300)


class Evaluation(_Strict):
    """A job's evaluation, stored with it: the band, what fired, what the policy does, at what version."""

    version: str
    dataset: str
    band: Band
    action: Action
    fired: tuple[Fired, ...] = ()
    on_timeout: OnTimeout = "expire"
    thresholds: int = 0  # how many thresholds the dataset's policy sets (0: nothing was checked)

    @property
    def applies(self) -> bool:
        """False for the default policy (no threshold, a reviewer decides, expiry expires): nothing kept."""
        return bool(self.thresholds) or self.action != "review" or self.on_timeout != "expire"

    @property
    def decides(self) -> bool:
        """True when the policy itself decides (publish or reject) and no reviewer is asked."""
        return self.action != "review"

    def reasons(self, band: str | None = None) -> list[str]:
        """The fired thresholds' reasons (of one band, or all)."""
        return [f.reason for f in self.fired if band is None or f.band == band]


def evaluate(
    policies: Policies,
    dataset: str,
    counts: dict[str, int],
    reasons: dict[str, int],
    columns: list[str],
    changes: dict[str, Any] | None,
) -> Evaluation:
    """Sort a staged result into a band. `changes` is the profile diff against the last published
    version (etl_core.profile.diff_profiles), None when there is nothing to compare with."""
    policy = policies.for_dataset(dataset)
    fired = [
        *_check(policy.fail, "fail", counts, reasons, columns, changes),
        *_check(policy.warn, "warn", counts, reasons, columns, changes),
    ]
    band: Band = "fail" if any(f.band == "fail" for f in fired) else "warn" if fired else "pass"
    action: Action = {"fail": "reject", "warn": "review", "pass": "publish"}[band]
    if band == "pass" and policy.on_pass == "review":  # noqa: S105 (a band's action, no password)
        action = "review"
    return Evaluation(
        version=policies.version,
        dataset=dataset,
        band=band,
        action=action,
        fired=tuple(fired),
        on_timeout=policy.on_timeout,
        thresholds=policy.warn.count() + policy.fail.count(),
    )


def _check(
    limits: Thresholds,
    band: Literal["warn", "fail"],
    counts: dict[str, int],
    reasons: dict[str, int],
    columns: list[str],
    changes: dict[str, Any] | None,
) -> list[Fired]:
    found: list[tuple[str, str]] = []
    rows, rejected = int(counts.get("rows", 0)), int(counts.get("rejected", 0))
    if limits.max_reject_rate is not None and rows and rejected / rows > limits.max_reject_rate:
        found.append(
            (
                "max_reject_rate",
                f"reject rate {_pct(rejected / rows)} ({rejected:,} of {rows:,} rows) is over "
                f"{_pct(limits.max_reject_rate)}",
            )
        )
    change = _row_change(changes)
    if limits.max_row_change is not None and change is not None and abs(change[2]) > limits.max_row_change:
        before, after, rate = change
        found.append(
            (
                "max_row_change",
                f"records changed {'+' if rate >= 0 else '-'}{_pct(abs(rate))} since the last published "
                f"version ({before:,} → {after:,}), more than ±{_pct(limits.max_row_change)}",
            )
        )
    missing = [c for c in limits.required_columns if c not in columns]
    if missing:
        found.append(("required_columns", "required column(s) missing: " + ", ".join(missing)[:200]))
    hits = {
        r: n
        for r, n in reasons.items()
        if n and (r in limits.reject_reasons or ANY_REASON in limits.reject_reasons)
    }
    if hits:
        listed = ", ".join(f"{r} ({n:,})" for r, n in sorted(hits.items()))
        found.append(("reject_reasons", f"rows rejected for: {listed}"[:300]))
    return [Fired(threshold=t, band=band, reason=r) for t, r in found]


def _row_change(changes: dict[str, Any] | None) -> tuple[int, int, float] | None:
    """(before, after, relative change) of valid records against the last published version."""
    if not changes or changes.get("first"):
        return None
    records = changes.get("records", {})
    before, after = int(records.get("before", 0)), int(records.get("after", 0))
    if before == 0:
        return None
    return before, after, (after - before) / before


def _pct(rate: float) -> str:
    return f"{rate * 100:.4g} %"


def reviewer(version: str) -> str:
    """How a policy decision names its decider in the job's record."""
    return f"policy:{version}"
