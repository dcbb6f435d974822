"""The quality policy as configured and evaluated (etl_aws.policy): pure, no AWS."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from etl_aws import config
from etl_aws import contract as C
from etl_aws.policy import Policies, evaluate

COUNTS = {"rows": 200, "valid": 190, "rejected": 10}
REASONS = {"bad_date": 6, "missing_name": 4}
COLUMNS = ["id", "name", "date", "amount"]
CHANGES = {"first": False, "records": {"before": 400, "after": 190, "delta": -210}}


def policies(**datasets: dict) -> Policies:
    return Policies.model_validate({"version": "v7", "datasets": datasets})


def test_without_policies_every_job_waits_and_expires() -> None:
    result = evaluate(Policies.from_json(""), "uploads/sales", COUNTS, REASONS, COLUMNS, CHANGES)

    assert (result.band, result.action, result.on_timeout, result.thresholds) == (
        "pass",
        "review",
        "expire",
        0,
    )
    assert result.version == "default"
    assert not result.applies  # nothing is stored with the job: its record is as without policies


def test_a_pass_publishes_only_when_the_dataset_says_so() -> None:
    configured = policies(
        **{"uploads/a": {"on_pass": "publish", "fail": {"max_reject_rate": 0.2}}},
        **{"uploads/b": {"fail": {"max_reject_rate": 0.2}}},
    )

    assert evaluate(configured, "uploads/a", COUNTS, REASONS, COLUMNS, None).action == "publish"
    assert evaluate(configured, "uploads/b", COUNTS, REASONS, COLUMNS, None).action == "review"
    assert evaluate(configured, "uploads/b", COUNTS, REASONS, COLUMNS, None).applies


def test_fail_wins_over_warn_and_every_fired_threshold_is_listed() -> None:
    configured = policies(
        **{
            "uploads/sales": {
                "on_pass": "publish",
                "warn": {"max_reject_rate": 0.01, "reject_reasons": ["bad_date"]},
                "fail": {"required_columns": ["id", "region", "price"]},
            }
        }
    )

    result = evaluate(configured, "uploads/sales", COUNTS, REASONS, COLUMNS, None)

    assert (result.band, result.action) == ("fail", "reject")
    assert [(f.band, f.threshold) for f in result.fired] == [
        ("fail", "required_columns"),
        ("warn", "max_reject_rate"),
        ("warn", "reject_reasons"),
    ]
    assert result.reasons("fail") == ["required column(s) missing: region, price"]
    assert "rows rejected for: bad_date (6)" in result.reasons("warn")


def test_row_count_is_compared_with_the_last_published_version_only() -> None:
    configured = policies(**{"uploads/sales": {"warn": {"max_row_change": 0.25}}})

    against_published = evaluate(configured, "uploads/sales", COUNTS, REASONS, COLUMNS, CHANGES)
    first = evaluate(configured, "uploads/sales", COUNTS, REASONS, COLUMNS, {"first": True, "records": {}})

    assert against_published.band == "warn"
    assert against_published.fired[0].reason == (
        "records changed -52.5 % since the last published version (400 → 190), more than ±25 %"
    )
    assert first.band == "pass"


def test_any_reject_reason_fires_with_the_wildcard_and_not_without_rejects() -> None:
    configured = policies(**{"uploads/sales": {"fail": {"reject_reasons": ["*"]}}})

    assert evaluate(configured, "uploads/sales", COUNTS, REASONS, COLUMNS, None).band == "fail"
    clean = evaluate(configured, "uploads/sales", {"rows": 5, "valid": 5, "rejected": 0}, {}, COLUMNS, None)
    assert clean.band == "pass"


def test_an_unlisted_dataset_gets_the_default_entry() -> None:
    configured = Policies.model_validate(
        {"version": "v1", "default": {"fail": {"max_reject_rate": 0.01}}, "datasets": {"uploads/x": {}}}
    )

    assert evaluate(configured, "uploads/other", COUNTS, REASONS, COLUMNS, None).band == "fail"
    assert evaluate(configured, "uploads/x", COUNTS, REASONS, COLUMNS, None).band == "pass"


@pytest.mark.parametrize(
    "bad",
    [
        {"datasets": {"uploads/a": {"on_timeout": "later"}}},
        {"datasets": {"uploads/a": {"warn": {"max_reject_rate": 2}}}},
        {"datasets": {"uploads/a": {"warn": {"max_rejects": 0.1}}}},  # a misspelt threshold is refused
        {"version": "has spaces"},
    ],
)
def test_an_invalid_policy_is_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        Policies.from_json(json.dumps(bad))


def test_the_load_function_refuses_an_invalid_policy_at_cold_start_naming_the_variable_and_place() -> None:
    env = {
        C.ENV_JOBS_TABLE: "jobs",
        C.ENV_OUTPUT_BUCKET: "out",
        C.ENV_WORKFLOW: C.STEP_FUNCTIONS,
        C.ENV_DATASET_POLICIES: json.dumps({"datasets": {"uploads/a": {"on_timeout": "later"}}}),
    }

    with pytest.raises(
        config.SettingsError, match=r"ETL_DATASET_POLICIES: .* at datasets\.uploads/a\.on_timeout"
    ):
        config.for_function("sfn-load", env)


def test_policies_over_the_environment_budget_are_refused() -> None:
    big = json.dumps({"version": "v1", "datasets": {f"uploads/d{i:03}": {} for i in range(200)}})
    assert len(big) > C.MAX_DATASET_POLICIES_BYTES

    with pytest.raises(ValueError, match="4 KB"):
        Policies.from_json(big)
