"""The jobs table: one item per job, every state change a conditional write.

Public reads return `Job` (etl_aws.job_records); the stored secrets of a waiting job are read only
through `approval_secrets`. Times come from `etl_aws.clock`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from etl_aws import clients, clock
from etl_aws import contract as C
from etl_aws.clock import iso_in, now_iso
from etl_aws.dynamo import conditional_failed, plain, set_clauses, status_in
from etl_aws.errors import (
    DecisionConflict,
    DecisionGone,
    InvalidTransition,
    JobCancelled,
    JobNotFound,
    NotAwaitingDecision,
    ReviewLinkSuperseded,
)
from etl_aws.job_quorum import QuorumWrites
from etl_aws.job_records import ApprovalSecrets, HistoryEntry, Job, PublishedVersion
from etl_aws.models import CANCELLABLE, TERMINAL, Decision, JobStatus, ObjectRef

__all__ = [
    "BATCH_GET_ATTEMPTS",
    "BATCH_GET_LIMIT",
    "ApprovalSecrets",
    "HistoryEntry",
    "Job",
    "JobsRepository",
    "iso_in",
    "now_iso",
]

BATCH_GET_LIMIT = 100  # keys per BatchGetItem, the service's maximum
# Items that are not jobs: one per dataset, pointing at its last published (COMPLETED) job. They have no
# `status`, so the status index (a sparse GSI) never holds them, and a scan of all jobs filters them out.
LATEST_PUBLISHED_PREFIX = "latest-published#"
BATCH_GET_ATTEMPTS = 8


class JobsRepository(QuorumWrites):
    """All reads and writes of the jobs table."""

    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self._dynamodb = dynamodb or clients.resource("dynamodb")
        self._table = clients.table(table_name) if dynamodb is None else dynamodb.Table(table_name)

    # ---- create and read ---------------------------------------------------------------------------

    def create(self, job_id: str, workflow: str, ref: ObjectRef, retention_days: int) -> Job:
        """Create the job in RECEIVED; creating it again is a no-op that returns the existing job."""
        now = clock.now_iso()
        item = {
            "job_id": job_id,
            "workflow": workflow,
            "status": JobStatus.RECEIVED.value,
            "file_name": ref.file_name,
            "source": {k: v for k, v in ref.model_dump(exclude={"uploader"}).items() if v is not None},
            "history": [{"status": JobStatus.RECEIVED.value, "at": now}],
            "created_at": now,
            "updated_at": now,
            C.JOBS_TTL_ATTRIBUTE: clock.epoch_seconds() + retention_days * 86400,
        }
        if ref.uploader:
            item["uploaded_by"] = ref.uploader[:256]
        try:
            self._table.put_item(Item=item, ConditionExpression=Attr("job_id").not_exists())
        except ClientError as exc:
            if conditional_failed(exc):
                return self.get(job_id)
            raise
        return Job.from_item(item)

    def find(self, job_id: str) -> Job | None:
        """The job, or None when there is none (strongly consistent read)."""
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return Job.from_item(item) if item else None

    def find_many(self, job_ids: list[str]) -> dict[str, Job]:
        """The jobs among `job_ids` that exist, by id (strongly consistent batch reads)."""
        return {item["job_id"]: Job.from_item(item) for item in self._batch_get(job_ids)}

    def progress(self, job_ids: list[str]) -> dict[str, tuple[JobStatus, bool]]:
        """(status, e-mail sent?) of each existing job among `job_ids`: the few attributes a watcher
        polls, read in batches."""
        items = self._batch_get(job_ids, "job_id, #status, notified_at", {"#status": "status"})
        return {i["job_id"]: (JobStatus(i["status"]), bool(i.get("notified_at"))) for i in items}

    def _batch_get(
        self, job_ids: list[str], projection: str | None = None, names: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        name = self._table.name
        for start in range(0, len(job_ids), BATCH_GET_LIMIT):
            keys = [{"job_id": job_id} for job_id in job_ids[start : start + BATCH_GET_LIMIT]]
            spec: dict[str, Any] = {"Keys": keys, "ConsistentRead": True}
            if projection:
                spec |= {"ProjectionExpression": projection, "ExpressionAttributeNames": names or {}}
            request: dict[str, Any] = {name: spec}
            for attempt in range(BATCH_GET_ATTEMPTS):
                page = self._dynamodb.batch_get_item(RequestItems=request)
                found.extend(page.get("Responses", {}).get(name, []))
                request = page.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))  # the service's advice: back off, then retry
            else:
                raise RuntimeError(f"jobs table kept keys unprocessed after {BATCH_GET_ATTEMPTS} attempts")
        return found

    def get(self, job_id: str) -> Job:
        """The job; JobNotFound when there is none."""
        job = self.find(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} not found")
        return job

    def list_jobs(
        self, status: JobStatus | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Job], str | None]:
        """Jobs by status (newest first, through the status index), or all jobs when status is None."""
        kwargs: dict[str, Any] = {"Limit": limit}
        if cursor:
            kwargs["ExclusiveStartKey"] = json.loads(cursor)
        if status is None:
            page = self._table.scan(FilterExpression=Attr("status").exists(), **kwargs)
        else:
            page = self._table.query(
                IndexName=C.JOBS_STATUS_INDEX,
                KeyConditionExpression=Key("status").eq(status.value),
                ScanIndexForward=False,
                **kwargs,
            )
        jobs = [Job.from_item(i) for i in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return jobs, (json.dumps(plain(last)) if last else None)

    # ---- the last published version of each dataset ----------------------------------------------

    def latest_published(self, dataset: str) -> PublishedVersion | None:
        """The last COMPLETED job of `dataset` and its profile, or None before its first publication."""
        key = {"job_id": LATEST_PUBLISHED_PREFIX + dataset}
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        if not item:
            return None
        return PublishedVersion(
            job_id=item["published_job_id"],
            finalized_at=item["finalized_at"],
            profile=json.loads(item.get("profile_json") or "{}"),
        )

    def mark_published(self, dataset: str, job: Job) -> None:
        """Point `dataset` at `job` (just COMPLETED) unless a job finalized later already holds it.

        A conditional put, so two finalizes racing (or one re-run late) leave the newest in place. The item
        stays small: the profile is bounded (etl_core.profile.MAX_PROFILE_BYTES), far under DynamoDB's
        400 KB item limit (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
        ServiceQuotas.html)."""
        item = {
            "job_id": LATEST_PUBLISHED_PREFIX + dataset,
            "published_job_id": job.job_id,
            "finalized_at": job.finalized_at or clock.now_iso(),
            "profile_json": json.dumps(job.profile, separators=(",", ":")),
        }
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(job_id) OR finalized_at <= :at",
                ExpressionAttributeValues={":at": item["finalized_at"]},
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise

    # ---- state changes -------------------------------------------------------------------------------

    def transition(
        self,
        job_id: str,
        allowed_from: Iterable[JobStatus],
        to: JobStatus,
        fields: dict[str, Any] | None = None,
    ) -> Job:
        """Move to `to` only from one of `allowed_from`. Already at `to`: returns the job (idempotent)."""
        now = clock.now_iso()
        names, values, sets = set_clauses({**(fields or {}), "status": to.value, "updated_at": now})
        values[":h"] = [{"status": to.value, "at": now}]
        values[":empty"] = []
        condition = "attribute_exists(job_id) AND " + status_in(allowed_from, names, values)
        names["#history"] = "history"
        update = "SET " + ", ".join(sets) + ", #history = list_append(if_not_exists(#history, :empty), :h)"
        item = self._conditional_update(job_id, update, condition, values, names)
        if item is not None:
            return Job.from_item(item)
        job = self.get(job_id)
        if job.status == to:
            return job
        raise InvalidTransition(f"job {job_id} is {job.status}, cannot become {to}")

    def update(self, job_id: str, fields: dict[str, Any], only_if: Iterable[JobStatus] | None = None) -> Job:
        """Set attributes without changing status (optionally only while in one of `only_if`)."""
        names, values, sets = set_clauses({**fields, "updated_at": clock.now_iso()})
        condition = "attribute_exists(job_id)"
        if only_if is not None:
            condition += " AND " + status_in(only_if, names, values)
        item = self._conditional_update(job_id, "SET " + ", ".join(sets), condition, values, names)
        if item is not None:
            return Job.from_item(item)
        job = self.get(job_id)
        raise InvalidTransition(f"job {job_id} is {job.status}: update refused")

    # ---- approval --------------------------------------------------------------------------------

    def store_approval(
        self,
        job_id: str,
        callback_token: str,
        review_token_hash: str | None,
        approval_expires_at: str,
        execution_arn: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Job:
        """Keep the callback reference, the hashed review token (or, in `extra`, each named reviewer's)
        and the waiting execution's ARN (where the truth about a delivery is read); enter PENDING_APPROVAL."""
        fields: dict[str, Any] = {
            "callback_token": callback_token,
            "approval_expires_at": approval_expires_at,
        }
        if review_token_hash:  # None with named reviewers: their tokens' hashes come in `extra`
            fields["review_token_hash"] = review_token_hash
        if execution_arn:
            fields["execution_arn"] = execution_arn
        fields |= extra or {}
        return self.transition(
            job_id, [JobStatus.LOADED, JobStatus.PENDING_APPROVAL], JobStatus.PENDING_APPROVAL, fields
        )

    def approval_secrets(self, job_id: str) -> ApprovalSecrets:
        """The stored secrets of the job, for the approval service only; JobNotFound when there is none."""
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        if not item:
            raise JobNotFound(f"job {job_id} not found")
        return ApprovalSecrets.from_item(item)

    def record_decision(
        self, job_id: str, decision: Decision, use_review_token: bool = False, review_token_hash: str = ""
    ) -> tuple[Job, bool]:
        """First decision wins. Returns (job, True) when this call recorded it, (job, False) for a repeat.

        `review_token_hash`: the hash of the link deciding; the write then holds only while that link is
        the current one, so a link superseded after it was checked still cannot decide.
        Raises DecisionConflict for a different earlier decision, DecisionGone after expiry,
        NotAwaitingDecision before the approval step, JobNotFound for an unknown job, ReviewLinkSuperseded
        when the link was superseded.
        """
        now = clock.now_iso()
        to = JobStatus.APPROVED if decision.approved else JobStatus.REJECTED
        fields: dict[str, Any] = {"decision": decision.model_dump(mode="json")}
        if use_review_token:
            fields["review_token_used_at"] = now
        names, values, sets = set_clauses({**fields, "status": to.value, "updated_at": now})
        names["#status"] = "status"
        names["#history"] = "history"
        values[":pending"] = JobStatus.PENDING_APPROVAL.value
        values[":now"] = now
        values[":h"] = [{"status": to.value, "at": now}]
        condition = "#status = :pending AND attribute_not_exists(decision) AND approval_expires_at > :now" + (
            " AND attribute_not_exists(review_token_used_at)" if use_review_token else ""
        )
        if review_token_hash:
            condition += " AND review_token_hash = :link"
            values[":link"] = review_token_hash
        update = "SET " + ", ".join(sets) + ", #history = list_append(#history, :h)"
        item = self._conditional_update(job_id, update, condition, values, names)
        if item is None:
            if review_token_hash and self.approval_secrets(job_id).review_token_hash != review_token_hash:
                raise ReviewLinkSuperseded(f"a newer review link was sent for job {job_id}")
            return self._explain_refused_decision(job_id, decision, now), False
        return Job.from_item(item), True

    def _explain_refused_decision(self, job_id: str, decision: Decision, now: str) -> Job:
        job = self.get(job_id)
        if job.decision is not None:
            if job.decision.approved == decision.approved and job.status != JobStatus.EXPIRED:
                return job
            if job.status == JobStatus.EXPIRED:
                raise DecisionGone(f"job {job_id} expired before a decision reached it")
            raise DecisionConflict(
                f"job {job_id} was already {'approved' if job.decision.approved else 'rejected'}"
            )
        if job.status == JobStatus.PENDING_APPROVAL and (job.approval_expires_at or "") <= now:
            raise DecisionGone(f"the approval of job {job_id} expired at {job.approval_expires_at}")
        if job.status == JobStatus.CANCELLED:
            raise JobCancelled(f"job {job_id} was cancelled by an operator: it no longer waits")
        if job.status in TERMINAL:
            raise DecisionGone(f"job {job_id} is {job.status}: it no longer waits for a decision")
        raise NotAwaitingDecision(f"job {job_id} is {job.status}: not yet waiting for a decision")

    def cancel(self, job_id: str, by: str, reason: str = "") -> Job:
        """End the job CANCELLED, only from a status in CANCELLABLE: a job that ended meanwhile, or whose
        approval is being published, keeps its ending (InvalidTransition). Already CANCELLED: returned."""
        cancelled = {"by": by[:256], "at": clock.now_iso(), "reason": reason[:1000]}
        return self.transition(
            job_id,
            CANCELLABLE,
            JobStatus.CANCELLED,
            {"cancelled": cancelled, "finalized_at": cancelled["at"]},
        )

    def mark_callback_sent(self, job_id: str) -> Job:
        """Note when the decision's callback was first delivered (later calls keep the first time).
        Returns the job as written."""
        answer = self._table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET callback_sent_at = if_not_exists(callback_sent_at, :now)",
            ExpressionAttributeValues={":now": clock.now_iso()},
            ReturnValues="ALL_NEW",
        )
        return Job.from_item(answer["Attributes"])

    def claim_callback(
        self, job_id: str, lease_seconds: int, claim: str | None = None
    ) -> tuple[str, ApprovalSecrets] | None:
        """Take the right to send a recorded decision's callback, for `lease_seconds`.

        Returns the claim id (`claim`, or a new one) with the job's secrets as the claim's write left
        them (the callback token to send to, read in the same atomic step: no read after the claim), or
        None when the callback was already sent or another sender holds a live claim: concurrent
        repeats of a decision then send it once, and a claim left by a crashed sender lapses on its own.
        Taking a claim again with the same id succeeds, so a retry of a request whose answer was lost
        finds the claim its first attempt took.
        """
        claim = claim or uuid.uuid4().hex
        values = {":claim": claim, ":until": clock.iso_in(lease_seconds), ":now": clock.now_iso()}
        item = self._conditional_update(
            job_id,
            "SET callback_claim = :claim, callback_claim_until = :until",
            "attribute_exists(decision) AND attribute_not_exists(callback_sent_at)"
            " AND (attribute_not_exists(callback_claim_until) OR callback_claim_until < :now"
            " OR callback_claim = :claim)",
            values,
        )
        return (claim, ApprovalSecrets.from_item(item)) if item is not None else None

    def release_callback(self, job_id: str, claim: str) -> None:
        """Give back a claim after a failed send, so the next repeat can retry at once (ours only)."""
        self._conditional_update(
            job_id,
            "REMOVE callback_claim, callback_claim_until",
            "callback_claim = :claim",
            {":claim": claim},
            new_item=False,
        )

    # ---- helpers ---------------------------------------------------------------------------------

    def _conditional_update(
        self,
        job_id: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        *,
        new_item: bool = True,
    ) -> dict[str, Any] | None:
        """UpdateItem under `condition`. Returns the item as updated (`{}` unless `new_item`), or None
        when the condition refused the write; any other failure is raised."""
        request: dict[str, Any] = {
            "Key": {"job_id": job_id},
            "UpdateExpression": update,
            "ConditionExpression": condition,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values
        if new_item:
            request["ReturnValues"] = "ALL_NEW"
        try:
            response = self._table.update_item(**request)
        except ClientError as exc:
            if conditional_failed(exc):
                return None
            raise
        return response["Attributes"] if new_item else {}
