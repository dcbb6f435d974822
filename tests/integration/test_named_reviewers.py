"""Named reviewers (etl_aws.reviewers) against moto: the configuration's rules, the filter policies SNS
applies to each reviewer's subscription, the uploader named by an S3 event, and N-of-M approvals racing on
one job (each thread one Lambda environment, as in test_approval_concurrency.py)."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import boto3
import pytest

from etl_aws import approval, decision_rules, events, notify, reminders, tokens
from etl_aws import contract as C
from etl_aws.config import ApprovalApiSettings, SettingsError, SfnApprovalTaskSettings
from etl_aws.errors import ReviewLinkSuperseded
from etl_aws.jobs import JobsRepository, iso_in
from etl_aws.models import JobStatus, ObjectRef
from etl_aws.reviewers import SHARED_FILTER_POLICY, ReviewConfig, ReviewPolicy, filter_policy
from tests.integration.approval_support import ApprovalEnv, execution_arn

pytest_plugins = ["tests.integration.approval_fixtures"]

ANA, BEN, CY = "ana@example.com", "ben@example.com", "cy@example.com"


# ---- configuration ----------------------------------------------------------------------------------


def test_addresses_are_normalised_and_deduplicated() -> None:
    policy = ReviewPolicy(reviewers=(" Ana@Example.com", "ana@example.com", BEN))

    assert policy.reviewers == (ANA, BEN)


@pytest.mark.parametrize(
    "policy",
    [
        {"reviewers": ["not-an-address"]},
        {"reviewers": [ANA], "approvals_required": 2},  # more approvals than reviewers
        {"approvals_required": 0},
        {"remind_before_minutes": 0},
        {"reviewers": [ANA], "unknown": 1},
    ],
)
def test_a_policy_that_cannot_work_is_refused(policy: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        ReviewPolicy.model_validate(policy)


def test_a_function_refuses_review_settings_that_are_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        C.ENV_JOBS_TABLE: "jobs",
        C.ENV_OUTPUT_BUCKET: "out",
        C.ENV_WORKFLOW: C.STEP_FUNCTIONS,
        C.ENV_TOPIC_ARN: "topic",
        C.ENV_API_URL: "https://api",
        C.ENV_REVIEW_CONFIG: "{reviewers: ana}",
    }

    with pytest.raises(SettingsError, match=C.ENV_REVIEW_CONFIG):
        SfnApprovalTaskSettings.from_env(env)
    parsed = SfnApprovalTaskSettings.from_env(
        env | {C.ENV_REVIEW_CONFIG: '{"default": {"reviewers": ["ana@example.com"]}}'}
    )
    assert parsed.review.for_dataset("uploads/any").reviewers == (ANA,)


def test_a_dataset_of_its_own_overrides_the_default() -> None:
    config = ReviewConfig.model_validate({"default": {"reviewers": [ANA]}, "datasets": {"uploads/x": {}}})

    assert config.for_dataset("uploads/y").named
    assert not config.for_dataset("uploads/x").named
    assert config.addresses() == [ANA]


def test_an_allowlist_may_name_the_role_of_an_assumed_role_session() -> None:
    role = "arn:aws:iam::123456789012:role/etl-ops"
    session = "arn:aws:sts::123456789012:assumed-role/etl-ops/ana"

    assert decision_rules.role_of(session) == role
    assert decision_rules.role_of(role) == role


# ---- what AWS does that the local runtime relies on ----------------------------------------------


def test_sns_delivers_each_addressed_message_only_to_the_matching_subscription(aws: Any) -> None:
    """Filter policies on message attributes, and `exists: false` for the shared subscription, as
    https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html and
    https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html describe them: moto applies them
    on the SQS path the local runtime's mailboxes use."""
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="filtered")["TopicArn"]
    queues = {}
    for name, policy in (("shared", SHARED_FILTER_POLICY), ("ana", filter_policy(ANA))):
        url = sqs.create_queue(QueueName=f"filtered-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {"FilterPolicy": json.dumps(policy), "FilterPolicyScope": "MessageAttributes"}
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[name] = url

    def publish(text: str, recipient: str | None) -> None:
        attrs = {"job_id": {"DataType": "String", "StringValue": "j"}}
        if recipient:
            attrs["recipient"] = {"DataType": "String", "StringValue": recipient}
        sns.publish(TopicArn=topic, Message=text, MessageAttributes=attrs)

    publish("shared link", None)
    publish("ana's link", ANA)
    publish("ben's link", BEN)

    received = {
        name: [
            json.loads(m["Body"])["Message"]
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        ]
        for name, url in queues.items()
    }
    assert received == {"shared": ["shared link"], "ana": ["ana's link"]}


def test_an_s3_notification_names_the_uploader() -> None:
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "s3": {"bucket": {"name": "raw"}, "object": {"key": "uploads/a.csv", "eTag": "e", "sequencer": "1"}},
    }

    (ref,) = events.object_refs({"Records": [record]})

    assert ref.uploader == "AWS:AIDAEXAMPLE"


# ---- N-of-M approvals racing ----------------------------------------------------------------------


def _waiting_job(env: ApprovalEnv, name: str, reviewers: list[str], required: int) -> str:
    """A job waiting for `required` approvals of `reviewers`, its workflow waiting on a callback."""
    repo = env.repo
    ref = ObjectRef(bucket="raw", key=f"uploads/{name}.csv", etag="e", sequencer=name)
    repo.create(name, C.DURABLE, ref, 90)
    repo.transition(name, [JobStatus.RECEIVED], JobStatus.LOADED)
    callback = base64.b64encode(f"callback-{name}".encode()).decode()  # the shape of a durable callback id
    arn = execution_arn(C.DURABLE, name)
    env.recorder.waits(arn, callback)
    extra = {
        "review_token_hashes": {r: tokens.hash_token(tokens.new_token()) for r in reviewers},
        "reviewers": reviewers,
        "approvals_required": required,
        "approvals": {},
    }
    repo.store_approval(name, callback, None, iso_in(3600), arn, extra=extra)
    return name


def _race(env: ApprovalEnv, job_id: str, reviewers: list[str]) -> list[Any]:
    table = env.stack.resources["jobs_table"]
    repos = [JobsRepository(table, boto3.session.Session().resource("dynamodb")) for _ in reviewers]
    barrier = threading.Barrier(len(reviewers))
    results: list[Any] = [None] * len(reviewers)

    def run(i: int, reviewer: str) -> None:
        barrier.wait()
        try:
            results[i] = approval.decide(job_id, True, reviewer, via="iam", repo=repos[i])[1]
        except Exception as exc:
            results[i] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(reviewers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("round_", range(5))
def test_two_concurrent_approvals_of_two_required_decide_once_and_neither_is_lost(
    approval_env: ApprovalEnv, atomic_dynamodb: None, round_: int
) -> None:
    job_id = _waiting_job(approval_env, f"pair-{round_}", [ANA, BEN], 2)

    results = _race(approval_env, job_id, [ANA, BEN])

    job = approval_env.repo.get(job_id)
    assert results == [True, True]
    assert job.status == JobStatus.APPROVED
    assert sorted(job.approvals) == [ANA, BEN]
    assert len(approval_env.recorder.sent) == 1


def test_three_concurrent_approvals_of_two_required_send_one_callback(
    approval_env: ApprovalEnv, atomic_dynamodb: None
) -> None:
    job_id = _waiting_job(approval_env, "trio", [ANA, BEN, CY], 2)

    results = _race(approval_env, job_id, [ANA, BEN, CY])

    job = approval_env.repo.get(job_id)
    assert sorted(results) == [False, True, True]  # the third found the job decided: a repeat
    assert job.status == JobStatus.APPROVED
    assert len(job.approvals) == 2
    assert approval_env.recorder.approvals == [True]


def test_a_repeat_by_the_same_reviewer_does_not_count_twice(approval_env: ApprovalEnv) -> None:
    job_id = _waiting_job(approval_env, "repeat", [ANA, BEN], 2)

    first = approval.decide(job_id, True, ANA, via="iam", repo=approval_env.repo)
    again = approval.decide(job_id, True, ANA, via="iam", repo=approval_env.repo)

    assert (first[1], again[1]) == (True, False)
    assert again[0].status == JobStatus.PENDING_APPROVAL
    assert list(again[0].approvals) == [ANA]
    assert approval_env.recorder.sent == []


# ---- reminders ---------------------------------------------------------------------------------------


def _reminding(env: ApprovalEnv, minutes: int) -> ApprovalApiSettings:
    policy = {"reviewers": [ANA, BEN], "escalation": [CY], "remind_before_minutes": minutes}
    return ApprovalApiSettings(
        jobs_table=env.stack.resources["jobs_table"],
        topic_arn=env.stack.resources["topic_arn"],
        review=ReviewConfig.model_validate({"default": policy}),
    )


def test_a_reminder_whose_publish_failed_is_sent_by_the_next_run(
    approval_env: ApprovalEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _waiting_job(approval_env, "reminded", [ANA, BEN], 2)
    approval.decide(job_id, True, ANA, via="iam", repo=approval_env.repo)
    cfg = _reminding(approval_env, minutes=120)  # the job expires in 60: inside the window
    sent: list[dict[str, str]] = []
    publish = notify.publish

    def failing(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("SNS unavailable")

    monkeypatch.setattr(notify, "publish", failing)
    first = reminders.sweep(cfg, reminders.ReminderJobs(cfg.jobs_table))
    assert approval_env.repo.get(job_id).reminded_at is None  # the claim was given back

    def recording(topic: str, subject: str, body: str, attributes: dict[str, str] | None = None) -> str:
        sent.append(attributes or {})
        return publish(topic, subject, body, attributes)

    monkeypatch.setattr(notify, "publish", recording)
    second = reminders.sweep(cfg, reminders.ReminderJobs(cfg.jobs_table))
    third = reminders.sweep(cfg, reminders.ReminderJobs(cfg.jobs_table))

    assert (first, second, third) == (0, 1, 0)
    assert [a["recipient"] for a in sent] == [BEN, CY]  # ANA approved; the escalation list too
    assert approval_env.repo.get(job_id).reminded_at is not None


def test_no_reminder_before_the_window(approval_env: ApprovalEnv) -> None:
    job_id = _waiting_job(approval_env, "early", [ANA, BEN], 2)
    cfg = _reminding(approval_env, minutes=30)  # the job expires in 60

    assert reminders.sweep(cfg, reminders.ReminderJobs(cfg.jobs_table)) == 0
    assert approval_env.repo.get(job_id).reminded_at is None


# ---- a new approval request supersedes named reviewers' links too ---------------------------------


def test_a_named_reviewers_link_from_an_earlier_request_answers_superseded(approval_env: ApprovalEnv) -> None:
    repo = approval_env.repo
    job_id = _waiting_job(approval_env, "renamed", [ANA, BEN], 1)
    old = tokens.new_token()
    repo.update(job_id, {"review_token_hashes": {ANA: tokens.hash_token(old), BEN: tokens.hash_token("b")}})
    new = tokens.new_token()
    superseded = tokens.superseded(repo.approval_secrets(job_id))  # as request_approval does when re-run
    repo.update(
        job_id,
        {"review_token_hashes": {ANA: tokens.hash_token(new)}, "superseded_token_hashes": superseded},
    )

    with pytest.raises(ReviewLinkSuperseded):
        approval.review_view(job_id, old, repo=repo)
    with pytest.raises(ReviewLinkSuperseded):
        approval.decide(job_id, True, "x", via="review_link", token=old, repo=repo)
    assert approval.review_view(job_id, new, repo=repo).viewer == ANA
    assert repo.get(job_id).status == JobStatus.PENDING_APPROVAL
