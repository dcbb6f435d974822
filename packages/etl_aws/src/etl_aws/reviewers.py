"""Who reviews each dataset: named reviewers, how many approvals publish, who else may decide, reminders.

Read from ETL_REVIEW_CONFIG (JSON, set by Terraform's `review_policy`), per dataset with a default:

    {"default": {"reviewers": ["ana@example.com", "ben@example.com"], "approvals_required": 2,
                 "operators": ["arn:aws:iam::123456789012:role/etl-ops"], "uploader_may_approve": false,
                 "escalation": ["lead@example.com"], "remind_before_minutes": 120},
     "datasets": {"sales": {"reviewers": ["cy@example.com"]}}}

Unset (or `{}`), every dataset keeps the shared behaviour: one review link in one e-mail to the topic, one
approval decides, any IAM principal may decide on the operator routes.

Each named reviewer gets a link of their own; the e-mail carrying it is published with the message attribute
`recipient` = the address, and that address's subscription has a filter policy on it, so only its owner
receives it (https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html).
"""

from __future__ import annotations

import json
import re
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RECIPIENT_ATTRIBUTE = "recipient"
# SNS message attribute values are limited by the 256 KB message size only; e-mail addresses are far
# shorter (RFC 5321: 254 characters), as is a filter policy value.
MAX_ADDRESS_CHARS = 254
MAX_REVIEWERS = 20
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    """Addresses trimmed and lower-cased (SNS e-mail endpoints compare them so), each once, in order."""
    seen: list[str] = []
    for value in values:
        address = value.strip().lower()
        if len(address) > MAX_ADDRESS_CHARS or not _ADDRESS.fullmatch(address):
            raise ValueError(f"{value!r} is not an e-mail address")
        if address not in seen:
            seen.append(address)
    return tuple(seen)


class ReviewPolicy(BaseModel):
    """How one dataset is reviewed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reviewers: tuple[str, ...] = Field(default=(), max_length=MAX_REVIEWERS)
    approvals_required: int = Field(default=1, ge=1, le=MAX_REVIEWERS)
    operators: tuple[str, ...] = ()  # IAM principal ARNs allowed on the operator decision routes; () = any
    uploader_may_approve: bool = True
    escalation: tuple[str, ...] = Field(default=(), max_length=MAX_REVIEWERS)
    remind_before_minutes: int | None = Field(default=None, ge=1)

    @field_validator("reviewers", "escalation")
    @classmethod
    def _valid_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _addresses(value)

    @model_validator(mode="after")
    def _enough_reviewers(self) -> Self:
        if self.approvals_required > 1 and self.approvals_required > len(self.reviewers):
            raise ValueError(
                f"approvals_required ({self.approvals_required}) needs at least as many reviewers "
                f"({len(self.reviewers)} named)"
            )
        return self

    @property
    def named(self) -> bool:
        """Reviewers are named: one link each, instead of the one shared link."""
        return bool(self.reviewers)

    def may_operate(self, principal_arn: str) -> bool:
        """Whether `principal_arn` may decide on the operator routes (any, when no allowlist is set)."""
        return not self.operators or principal_arn in self.operators


class ReviewConfig(BaseModel):
    """The default policy and the datasets that differ from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: ReviewPolicy = ReviewPolicy()
    datasets: dict[str, ReviewPolicy] = Field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any) -> Any:
        """The JSON text of ETL_REVIEW_CONFIG as an object (other values unchanged, for validation)."""
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    def for_dataset(self, dataset: str) -> ReviewPolicy:
        """The policy of `dataset`: its own, else the default."""
        return self.datasets.get(dataset, self.default)

    def addresses(self) -> list[str]:
        """Every address that receives e-mail of its own (reviewers and escalation), sorted."""
        policies = [self.default, *self.datasets.values()]
        return sorted({a for p in policies for a in (*p.reviewers, *p.escalation)})

    @property
    def reminds(self) -> bool:
        """Whether any dataset has a reminder."""
        return any(p.remind_before_minutes for p in (self.default, *self.datasets.values()))


def filter_policy(address: str) -> dict[str, list[str]]:
    """The subscription filter policy (scope MessageAttributes) delivering only `address`'s e-mail."""
    return {RECIPIENT_ATTRIBUTE: [address]}


# A subscription for the shared link (approver_emails) takes only messages addressed to no one:
# https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html
SHARED_FILTER_POLICY: dict[str, Any] = {RECIPIENT_ATTRIBUTE: [{"exists": False}]}
