"""`etl upload`, `etl jobs start`, `etl dlq list|redrive` and the CLI's credentials, on the local runtime.

A deployment is reached with boto3's default credential chain: the profile tests write their own
config and credentials files (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE) and sign against the local
gateway, which checks SigV4 signatures with the local runtime's key pair as API Gateway checks IAM.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etl_aws import contract as C
from etl_aws import identity
from etl_aws.models import TERMINAL, JobStatus, ObjectRef
from etl_core import synth
from etl_local.runtime import ACCESS_KEY, SECRET_KEY, LocalRuntime, available_workflows
from etl_ops import cli
from etl_ops.cli_ops import s3_event
from etl_ops.retry import attempt_id, source_ref
from etl_ops.target import NO_CREDENTIALS

WAITING = frozenset({JobStatus.PENDING_APPROVAL, *TERMINAL})
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    with LocalRuntime(root=tmp_path_factory.mktemp("local"), approval_timeout_seconds=300) as rt:
        yield rt


def csv_bytes(seed: int) -> bytes:
    out = io.BytesIO()
    synth.write_csv(out, 10, bad_ratio=0.1, seed=seed)
    return out.getvalue()


def etl(runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(["--root", str(runtime.root), *args])
    return code, capsys.readouterr().out


def cli_json(out: str) -> Any:
    """The CLI's JSON document; the handlers run in this process and log one-line JSON around it."""
    document, _ = json.JSONDecoder().raw_decode(out[out.index("{\n") :])
    return document


def last_line(out: str) -> str:
    return [line for line in out.splitlines() if line.strip() and not line.startswith("{")][-1]


def put_unnotified(runtime: LocalRuntime, workflow: str, key: str, body: bytes) -> ObjectRef:
    """An object that arrived while the bucket's notification was off: no job was started for it."""
    s3, bucket = runtime.client("s3"), runtime.raw_bucket(workflow)
    saved = s3.get_bucket_notification_configuration(Bucket=bucket)
    saved.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=saved)
    return ObjectRef(bucket=bucket, key=key, version_id=put["VersionId"], etag=put["ETag"].strip('"'))


def queue_drained(runtime: LocalRuntime, queue_url: str, timeout: float = 30) -> None:
    """Wait until the queue holds no message, visible or in flight (the starter handled them all)."""
    sqs, deadline = runtime.client("sqs"), time.monotonic() + timeout
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while time.monotonic() < deadline:
        found = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        if all(found[n] == "0" for n in names):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{queue_url} not drained within {timeout} s")


def pipeline(runtime: LocalRuntime, workflow: str) -> dict[str, str]:
    return runtime.deployment.stack["pipelines"][workflow]


def workflows() -> list[str]:
    return [w for w in (C.DURABLE, C.STEP_FUNCTIONS) if w in available_workflows()]


def write_profiles(directory: Path, access_key: str, secret_key: str) -> dict[str, str]:
    """A config and a credentials file with profile `ops`; the variables that point boto3 at them."""
    config, credentials = directory / "config", directory / "credentials"
    config.write_text("[profile ops]\nregion = us-east-1\n", encoding="utf-8")
    credentials.write_text(
        f"[ops]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n", encoding="utf-8"
    )
    return {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}


def clean_env(**extra: str) -> dict[str, str]:
    """A process environment with no AWS credentials at all, and no instance metadata to fall back on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_EC2_METADATA_DISABLED": "true", "PYTHONPATH": str(ROOT)}, **extra)
    return env


def run_etl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etl_ops.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


# ---- upload and start ------------------------------------------------------------------------------


@pytest.mark.parametrize("workflow", workflows())
def test_upload_puts_the_file_in_the_pipeline_and_prints_the_job_it_starts(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], tmp_path: Path, workflow: str
) -> None:
    path = tmp_path / f"upload-{workflow}.csv"
    path.write_bytes(csv_bytes(21))

    code, out = etl(runtime, capsys, "upload", str(path), "--pipeline", workflow)

    assert code == 0, out
    job_id = last_line(out)
    job = runtime.wait_for(job_id, WAITING)
    assert job.status == JobStatus.PENDING_APPROVAL
    assert job.workflow == workflow
    assert job.source["key"] == f"uploads/upload-{workflow}.csv"


def test_upload_without_a_pipeline_goes_to_the_durable_one(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "default-pipeline.csv"
    path.write_bytes(csv_bytes(28))

    code, out = etl(runtime, capsys, "upload", str(path))

    assert code == 0, out
    assert runtime.wait_for(last_line(out), WAITING).workflow == C.DURABLE


def test_upload_to_a_chosen_key_outside_uploads_says_no_job_starts(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "notes.csv"
    path.write_bytes(csv_bytes(22))

    code, out = etl(
        runtime, capsys, "upload", str(path), "--pipeline", C.DURABLE, "--key", "drafts/notes.csv"
    )

    assert code == 0, out
    assert "only keys under uploads/" in out
    body = runtime.client("s3").get_object(Bucket=runtime.raw_bucket(C.DURABLE), Key="drafts/notes.csv")
    assert body["Body"].read() == path.read_bytes()


@pytest.mark.parametrize("workflow", workflows())
def test_jobs_start_of_an_object_never_notified_starts_it_under_the_s3_event_job_id(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    ref = put_unnotified(runtime, workflow, f"uploads/missed-{workflow}.csv", csv_bytes(23))
    assert runtime.job(identity.job_id(ref)) is None

    code, out = etl(runtime, capsys, "jobs", "start", f"s3://{ref.bucket}/{ref.key}")

    assert code == 0, out
    assert last_line(out) == identity.job_id(ref)
    assert runtime.wait_for(identity.job_id(ref), WAITING).status == JobStatus.PENDING_APPROVAL


def test_jobs_start_of_a_running_job_is_a_no_op(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = put_unnotified(runtime, C.DURABLE, "uploads/started-twice.csv", csv_bytes(24))
    etl(runtime, capsys, "jobs", "start", f"s3://{ref.bucket}/{ref.key}")
    before = runtime.wait_for(identity.job_id(ref), WAITING)

    code, out = etl(runtime, capsys, "jobs", "start", f"s3://{ref.bucket}/{ref.key}")
    queue_drained(runtime, pipeline(runtime, C.DURABLE)["queue_url"])

    assert code == 0, out
    assert last_line(out) == before.job_id
    after = runtime.job(before.job_id)
    assert after is not None
    assert (after.status, after.history) == (before.status, before.history)


def test_jobs_start_refuses_a_bucket_that_is_not_a_raw_bucket_of_the_stack(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit, match="not a raw bucket of this stack"):
        etl(runtime, capsys, "jobs", "start", "s3://someone-elses-bucket/uploads/a.csv")


# ---- retry -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("workflow", workflows())
def test_jobs_retry_of_a_failed_job_starts_a_new_attempt_under_its_own_linked_id(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    failed_id = runtime.upload(
        workflow, f"uploads/latin1-{workflow}.csv", "id,name\n1,Jos\xe9\n".encode("latin-1")
    )
    failed = runtime.wait_for(failed_id, TERMINAL)
    assert failed.status == JobStatus.FAILED
    ref = source_ref(failed.model_dump())

    code, out = etl(runtime, capsys, "jobs", "retry", failed_id)

    assert code == 0, out
    new_id = last_line(out)
    assert new_id == attempt_id(ref, 1) != failed_id
    attempt = runtime.wait_for(new_id, TERMINAL)
    assert (attempt.workflow, attempt.source["version_id"]) == (workflow, ref.version_id)
    assert attempt.status == JobStatus.FAILED  # the same bytes fail the same way, in a record of their own
    kept = runtime.job(failed_id)
    assert kept is not None
    assert (kept.status, kept.error, kept.source) == (failed.status, failed.error, failed.source)
    code, out = etl(runtime, capsys, "jobs", "retry", failed_id)
    assert (code, last_line(out)) == (0, attempt_id(ref, 2))


def test_retry_job_ids_stay_valid_job_ids_for_long_names_and_many_attempts() -> None:
    ref = ObjectRef(bucket="raw", key="uploads/" + "x" * 300 + ".csv", version_id="v1")

    ids = [attempt_id(ref, n) for n in (1, 9, 10, 99)]

    assert all(len(i) <= identity.MAX_JOB_ID and re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
    assert len({*ids, identity.job_id(ref)}) == 5


def test_jobs_retry_refuses_a_job_that_did_not_fail(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = runtime.upload(C.DURABLE, "uploads/fine.csv", csv_bytes(27))
    runtime.wait_for(job_id, WAITING)

    with pytest.raises(SystemExit, match="only a FAILED job is retried"):
        etl(runtime, capsys, "jobs", "retry", job_id)


# ---- dead-letter queues ----------------------------------------------------------------------------


def test_dlq_list_names_each_object_and_shows_no_message_body(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = put_unnotified(runtime, C.DURABLE, "uploads/dead-lettered.csv", csv_bytes(25))
    event = s3_event(ref)
    event["Records"][0]["userIdentity"] = {"principalId": "AWS:AIDAPRINCIPALNOTSHOWN"}
    dlq_url = pipeline(runtime, C.DURABLE)["dlq_url"]
    runtime.client("sqs").send_message(QueueUrl=dlq_url, MessageBody=json.dumps(event))

    code, out = etl(runtime, capsys, "dlq", "list", "--pipeline", C.DURABLE, "--json")
    again = etl(runtime, capsys, "dlq", "list", "--pipeline", C.DURABLE, "--json")[1]

    assert code == 0, out
    listed = cli_json(out)[C.DURABLE]
    assert [m["objects"] for m in listed] == [[f"s3://{ref.bucket}/{ref.key}?versionId={ref.version_id}"]]
    assert "AIDAPRINCIPALNOTSHOWN" not in out
    assert cli_json(again)[C.DURABLE][0]["message_id"] == listed[0]["message_id"], "listing consumed it"

    code, out = etl(runtime, capsys, "dlq", "redrive", "--pipeline", C.DURABLE)

    assert code == 0, out
    assert "1 message(s) moved back" in out
    assert runtime.wait_for(identity.job_id(ref), WAITING).status == JobStatus.PENDING_APPROVAL
    assert cli_json(etl(runtime, capsys, "dlq", "list", "--pipeline", C.DURABLE, "--json")[1]) == {
        C.DURABLE: []
    }


# ---- credentials -----------------------------------------------------------------------------------


def test_profile_credentials_sign_the_operator_requests(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in write_profiles(tmp_path, ACCESS_KEY, SECRET_KEY).items():
        monkeypatch.setenv(name, value)

    code, out = etl(
        runtime, capsys, "--profile", "ops", "jobs", "--api-url", runtime.api_url, "--raw", "list"
    )

    assert code == 0, out
    assert "jobs" in cli_json(out)


def test_a_profile_with_another_key_is_refused_so_its_key_is_the_one_used(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The environment holds the local key pair; a named profile takes precedence over it.
    for name, value in write_profiles(tmp_path, "AKIAOTHEROPERATOR", "not-the-secret").items():
        monkeypatch.setenv(name, value)

    code, out = etl(runtime, capsys, "--profile", "ops", "jobs", "--api-url", runtime.api_url, "list")

    assert code == 1
    assert "security token included in the request is invalid" in out


def test_aws_profile_variable_selects_the_profile_with_no_key_in_the_environment(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    env = clean_env(AWS_PROFILE="ops", **write_profiles(tmp_path, ACCESS_KEY, SECRET_KEY))

    done = run_etl(env, "jobs", "--api-url", runtime.api_url, "--raw", "list")

    assert done.returncode == 0, done.stderr
    assert "jobs" in cli_json(done.stdout)


def test_no_credentials_anywhere_is_a_clear_error_and_nothing_is_sent(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("", encoding="utf-8")
    env = clean_env(AWS_CONFIG_FILE=str(empty), AWS_SHARED_CREDENTIALS_FILE=str(empty))

    # Nothing listens on port 9: a request that was sent would fail differently.
    done = run_etl(env, "jobs", "--api-url", "http://127.0.0.1:9", "list")

    assert done.returncode == 1
    assert NO_CREDENTIALS in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_profile_is_a_clear_error(tmp_path: Path) -> None:
    env = clean_env(**write_profiles(tmp_path, ACCESS_KEY, SECRET_KEY))

    done = run_etl(env, "--profile", "nobody", "jobs", "--api-url", "http://127.0.0.1:9", "list")

    assert done.returncode == 1
    assert "nobody" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_deployment_named_by_its_outputs_is_reached_with_the_profile(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    stack = runtime.deployment.stack["pipelines"]
    outputs = {
        "raw_bucket_names": {"value": {w: p["raw_bucket"] for w, p in stack.items()}},
        "queue_urls": {"value": {w: p["queue_url"] for w, p in stack.items()}},
        "dlq_urls": {"value": {w: p["dlq_url"] for w, p in stack.items()}},
        "api_url": {"value": runtime.api_url},
    }
    (tmp_path / "outputs.json").write_text(json.dumps(outputs), encoding="utf-8")
    (tmp_path / "deployed.csv").write_bytes(csv_bytes(26))
    # AWS_ENDPOINT_URL stands in for AWS's own endpoints; the credentials come from the profile only.
    env = clean_env(
        AWS_ENDPOINT_URL=runtime.endpoints.moto, **write_profiles(tmp_path, ACCESS_KEY, SECRET_KEY)
    )

    done = run_etl(
        env, "--profile", "ops", "upload", str(tmp_path / "deployed.csv"), "--pipeline", C.DURABLE,
        "--outputs", str(tmp_path / "outputs.json"),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    job = runtime.wait_for(last_line(done.stdout), WAITING)
    assert job.status == JobStatus.PENDING_APPROVAL
