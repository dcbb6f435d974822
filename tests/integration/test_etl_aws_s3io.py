"""S3 as streams: bounded reads pinned to one version that survive dropped connections, multipart writes
that leave nothing behind on failure, and a 200 MB transform in bounded memory."""

from __future__ import annotations

import io
import os
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError

from etl_aws import clients, steps
from etl_aws.jobs import JobsRepository
from etl_aws.models import Extracted, JobStatus, ObjectRef, Source
from etl_aws.s3io import PART_SIZE, MultipartWriter, ObjectReader, open_object
from tests.integration.etl_aws_support import csv_bytes, jsonl, shared_botocore_models, start_request, upload
from tests.integration.etl_aws_support import faulty as faulty_client

MiB = 1024 * 1024


@pytest.fixture(autouse=True, scope="module")
def _models_parsed_once() -> Iterator[None]:
    with shared_botocore_models():
        yield


@pytest.fixture
def bucket(aws: Any) -> str:
    return aws.output_bucket("durable")


def in_progress_uploads(aws: Any, bucket: str) -> list[dict[str, Any]]:
    return aws.client("s3").list_multipart_uploads(Bucket=bucket).get("Uploads", [])


class Recorder:
    """A real S3 client that remembers the calls made through it (and the size of each part)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, {k: (len(v) if k == "Body" else v) for k, v in kwargs.items()}))
            return attr(*args, **kwargs)

        return call

    def named(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for op, kwargs in self.calls if op == name]


class DroppingBody:
    """A response body whose connection drops with `error` once `after` bytes have been read."""

    def __init__(self, body: Any, after: int, error: BaseException) -> None:
        self._body, self._left, self._error = body, after, error

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            raise self._error
        chunk = self._body.read(min(n, self._left) if n > 0 else self._left)
        self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        self._body.close()


class Dropping(Recorder):
    """Every get_object body drops its connection after `after` bytes, `drops` times in all."""

    def __init__(self, real: Any, after: int, error: BaseException, drops: int = 1) -> None:
        super().__init__(real)
        self._after, self._error, self._drops = after, error, drops

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_object", kwargs))
        response = self._real.get_object(**kwargs)
        if self._drops > 0:
            self._drops -= 1
            response["Body"] = DroppingBody(response["Body"], self._after, self._error)
        return response


# ---- reading ----------------------------------------------------------------------------------------


def test_reader_returns_the_exact_bytes_in_bounded_reads(aws: Any) -> None:
    body = os.urandom(3 * MiB + 17)
    ref = upload(aws, "uploads/blob.bin", body)

    with open_object(ref.bucket, ref.key, ref.version_id) as stream:
        first = stream.read(1000)
        rest = stream.read()

    assert len(first) == 1000
    assert first + rest == body


def test_reader_is_pinned_to_its_version_whatever_is_uploaded_later(aws: Any) -> None:
    first = upload(aws, "uploads/data.csv", b"first version\n")
    upload(aws, "uploads/data.csv", b"second version, longer\n")

    with open_object(first.bucket, first.key, first.version_id) as stream:
        assert stream.read() == b"first version\n"


def test_reader_without_a_version_is_pinned_by_etag(aws: Any) -> None:
    first = upload(aws, "uploads/data.csv", b"first version\n")
    with open_object(first.bucket, first.key, etag=first.etag) as stream:
        assert stream.read() == b"first version\n"
    upload(aws, "uploads/data.csv", b"second version\n")

    with pytest.raises(ClientError) as error, open_object(first.bucket, first.key, etag=first.etag) as stream:
        stream.read()

    assert error.value.response["Error"]["Code"] == "PreconditionFailed"


@pytest.mark.parametrize(
    "error",
    [
        ResponseStreamingError(error=ProtocolError("Connection broken: reset by peer")),
        ReadTimeoutError(endpoint_url="https://s3.amazonaws.com"),
        IncompleteReadError(actual_bytes=10, expected_bytes=20),
        ProtocolError("Connection broken"),
    ],
    ids=["reset", "read-timeout", "incomplete", "urllib3-protocol"],
)
def test_reader_resumes_a_dropped_connection_where_it_stopped(aws: Any, error: BaseException) -> None:
    body = os.urandom(2 * MiB + 5)
    ref = upload(aws, "uploads/blob.bin", body)
    s3 = Dropping(aws.client("s3"), after=MiB + 3, error=error)

    with io.BufferedReader(ObjectReader(ref.bucket, ref.key, ref.version_id, s3=s3)) as stream:
        data = stream.read()

    assert data == body
    opened = s3.named("get_object")
    assert [call.get("Range") for call in opened] == [None, f"bytes={MiB + 3}-"]
    assert all(call["VersionId"] == ref.version_id for call in opened)


def test_reader_gives_up_after_repeated_drops(aws: Any) -> None:
    ref = upload(aws, "uploads/blob.bin", os.urandom(MiB))
    reset = ResponseStreamingError(error=ProtocolError("reset"))
    s3 = Dropping(aws.client("s3"), after=1000, error=reset, drops=100)

    with (
        pytest.raises(ResponseStreamingError),
        ObjectReader(ref.bucket, ref.key, ref.version_id, s3=s3) as stream,
    ):
        stream.read()


def test_reader_resumed_exactly_at_the_end_reports_end_of_file(aws: Any) -> None:
    body = b"x" * 4096
    ref = upload(aws, "uploads/blob.bin", body)
    s3 = Dropping(
        aws.client("s3"), after=len(body), error=ResponseStreamingError(error=ProtocolError("reset"))
    )

    with io.BufferedReader(ObjectReader(ref.bucket, ref.key, ref.version_id, s3=s3)) as stream:
        assert stream.read() == body


# ---- writing ----------------------------------------------------------------------------------------


def test_small_output_is_one_put(aws: Any, bucket: str) -> None:
    s3 = Recorder(aws.client("s3"))

    with MultipartWriter(bucket, "staging/j/small.jsonl", s3=s3) as out:
        out.write(b'{"a":1}\n')

    assert [op for op, _ in s3.calls] == ["put_object"]
    got = aws.client("s3").get_object(Bucket=bucket, Key="staging/j/small.jsonl")
    assert got["Body"].read() == b'{"a":1}\n'
    assert got["ContentType"] == "application/x-ndjson"


def test_large_output_is_a_multipart_upload_of_bounded_parts(aws: Any, bucket: str) -> None:
    chunk = os.urandom(MiB)
    s3 = Recorder(aws.client("s3"))

    with MultipartWriter(bucket, "staging/j/big.jsonl", s3=s3) as out:
        for _ in range(20):
            out.write(chunk)

    parts = [call["Body"] for call in s3.named("upload_part")]
    assert parts == [PART_SIZE, PART_SIZE, 4 * MiB]
    assert s3.named("put_object") == []
    assert aws.client("s3").get_object(Bucket=bucket, Key="staging/j/big.jsonl")["Body"].read() == chunk * 20
    assert in_progress_uploads(aws, bucket) == []


def test_one_huge_write_is_still_cut_into_parts_at_once(aws: Any, bucket: str) -> None:
    s3 = Recorder(aws.client("s3"))
    writer = MultipartWriter(bucket, "staging/j/huge.jsonl", s3=s3)

    writer.write(b"y" * (3 * PART_SIZE + 1))

    assert [call["Body"] for call in s3.named("upload_part")] == [PART_SIZE] * 3
    writer.abort()


def fail_half_way(writer: MultipartWriter) -> None:
    with writer as out:
        out.write(os.urandom(PART_SIZE + MiB))
        raise RuntimeError("etl_core failed half-way")


def test_an_error_while_writing_aborts_the_upload(aws: Any, bucket: str) -> None:
    with pytest.raises(RuntimeError, match="half-way"):
        fail_half_way(MultipartWriter(bucket, "staging/j/broken.jsonl"))

    assert in_progress_uploads(aws, bucket) == []
    assert "Contents" not in aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="staging/j/")


@pytest.mark.parametrize("operation", ["upload_part", "complete_multipart_upload"])
def test_a_failure_while_completing_aborts_the_upload(
    aws: Any, bucket: str, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    # The second part is only sent on exit, so both failures happen inside complete().
    lost = RuntimeError("connection lost")
    on_call = 2 if operation == "upload_part" else 1
    with (
        faulty_client(monkeypatch, "s3", operation, lost, on_call=on_call),
        pytest.raises(RuntimeError),
        MultipartWriter(bucket, "staging/j/late.jsonl") as out,
    ):
        out.write(os.urandom(PART_SIZE + MiB))

    assert in_progress_uploads(aws, bucket) == []
    assert "Contents" not in aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="staging/j/")


# ---- a large file through transform --------------------------------------------------------------------


def test_transform_streams_a_multipart_upload_through_moto(aws: Any) -> None:
    """A 12 MB CSV written in chunks with a multipart upload, transformed into multipart outputs."""
    cfg = aws.settings("durable")
    raw = aws.raw_bucket("durable")
    with MultipartWriter(raw, "uploads/large/big file.csv", content_type="text/csv") as out:
        header = True
        for seed in range(6):
            chunk = csv_bytes(rows=30_000, bad_ratio=0.02, seed=seed)
            out.write(chunk if header else chunk.split(b"\n", 1)[1])
            header = False
    put = aws.client("s3").head_object(Bucket=raw, Key="uploads/large/big file.csv")
    assert put["ContentLength"] > 12 * 10**6
    assert put["ETag"].strip('"').endswith("-2")
    obj = ObjectRef(bucket=raw, key="uploads/large/big file.csv", version_id=put["VersionId"])

    transformed = steps.transform(steps.extract(start_request(obj), cfg), cfg)

    assert transformed.counts.rows == 180_000
    assert transformed.counts.valid + transformed.counts.rejected == 180_000
    s3 = aws.client("s3")
    records = s3.head_object(Bucket=cfg.output_bucket, Key=transformed.records_key)
    assert records["ETag"].strip('"').rsplit("-", 1)[1].isdigit()  # written as a multipart upload
    body = s3.get_object(Bucket=cfg.output_bucket, Key=transformed.rejects_key)["Body"].read()
    assert len(jsonl(body)) == transformed.counts.rejected


# A stand-in for S3 that stores nothing: moto keeps every object and every part in this process's
# memory (and get_object hands back the whole object as one bytes value), so with moto the traced memory
# of a 200 MB transform would be moto's copies of the input and of ~400 MB of output, not etl_aws's.
class GeneratedS3:
    """Serves one CSV object generated on the fly (a header, then a synth block repeated to `size` bytes)
    and discards everything uploaded, remembering only the part sizes."""

    def __init__(self, size: int) -> None:
        sample = csv_bytes(rows=40_000, bad_ratio=0.02)
        self.header, self.block = sample.split(b"\n", 1)
        self.header += b"\n"
        self.repeats = -(-(size - len(self.header)) // len(self.block))
        self.size = len(self.header) + self.repeats * len(self.block)
        self.rows = self.repeats * self.block.count(b"\n")
        self.part_sizes: list[int] = []
        self.uploads = 0
        self.completed: list[str] = []
        self.aborted: list[str] = []

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        return {"ContentLength": self.size, "ETag": '"generated"', "VersionId": "v-generated"}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        start, end = 0, self.size
        if "Range" in kwargs:
            first, _, last = kwargs["Range"].removeprefix("bytes=").partition("-")
            start, end = int(first), min(int(last) + 1 if last else self.size, self.size)
        return {"Body": _GeneratedBody(self, start, end)}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.completed.append(kwargs["Key"])
        return {}

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self.uploads += 1
        return {"UploadId": f"upload-{self.uploads}"}

    def upload_part(self, **kwargs: Any) -> dict[str, Any]:
        self.part_sizes.append(len(kwargs["Body"]))
        return {"ETag": f'"part-{len(self.part_sizes)}"'}

    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self.completed.append(kwargs["Key"])
        return {}

    def abort_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self.aborted.append(kwargs["Key"])
        return {}


class _GeneratedBody:
    def __init__(self, s3: GeneratedS3, start: int, end: int) -> None:
        self._s3, self._pos, self._end = s3, start, end

    def read(self, n: int = -1) -> bytes:
        s3 = self._s3
        if self._pos >= self._end:
            return b""
        n = self._end - self._pos if n is None or n < 0 else min(n, self._end - self._pos)
        if self._pos < len(s3.header):
            chunk = s3.header[self._pos : self._pos + n]
        else:
            offset = (self._pos - len(s3.header)) % len(s3.block)
            chunk = s3.block[offset : offset + n]
        self._pos += len(chunk)
        return chunk

    def close(self) -> None:
        pass


def _peak_rss_counter() -> tuple[Any, Any] | None:
    """(reset, read) of the kernel's peak-RSS counter of this process, where Linux offers a reset."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None

    def read_kib(field: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise RuntimeError(field)

    def reset() -> int:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return read_kib("VmRSS")

    return reset, lambda: read_kib("VmHWM")


def _extracted_from(aws: Any, monkeypatch: pytest.MonkeyPatch, s3: GeneratedS3, key: str) -> Extracted:
    """Route etl_aws's S3 calls to `s3` and run extract on its object (the job record lives in moto)."""
    real = clients.client
    monkeypatch.setattr(clients, "client", lambda name: s3 if name == "s3" else real(name))
    ref = ObjectRef(bucket=aws.raw_bucket("durable"), key=key, version_id="v-generated")
    return steps.extract(start_request(ref), aws.settings("durable"))


@pytest.mark.slow
def test_transform_of_a_200_mb_file_stays_under_64_mb(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounded memory, measured two ways. tracemalloc hooks every allocation, and etl_core makes a few per
    row: tracing the whole 200 MB costs ~100 s, so the 200 MB run is measured with the kernel's peak-RSS
    counter (every byte of the process, Python's or native, after a reset) and a 16 MB run with
    tracemalloc, long enough for the records writer to fill, send and drop several 8 MiB parts.
    Measured here: peak RSS +29 MiB over 200 MB, traced peak 20 MiB over 16 MB."""
    cfg = aws.settings("durable")
    limit_mib = 64
    s3 = GeneratedS3(200 * MiB)
    extracted = _extracted_from(aws, monkeypatch, s3, "uploads/generated.csv")
    assert extracted.source == Source(
        bucket=aws.raw_bucket("durable"),
        key="uploads/generated.csv",
        version_id="v-generated",
        etag="generated",
        size=s3.size,
    )

    counter = _peak_rss_counter()
    if counter is None:  # no resettable counter here: trace the whole file instead, slowly
        tracemalloc.start()
        transformed = steps.transform(extracted, cfg)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < limit_mib * MiB, f"traced peak {peak / MiB:.1f} MiB"
    else:
        reset, peak_kib = counter
        baseline_kib = reset()
        transformed = steps.transform(extracted, cfg)
        grown_mib = (peak_kib() - baseline_kib) / 1024
        assert grown_mib < limit_mib, f"peak RSS grew by {grown_mib:.1f} MiB"

    assert transformed.counts.rows == s3.rows
    assert s3.size >= 200 * MiB
    assert sorted(s3.completed) == sorted([transformed.records_key, transformed.rejects_key])
    assert s3.aborted == []
    assert max(s3.part_sizes) == PART_SIZE
    assert len(s3.part_sizes) >= 2 * 200 * MiB // PART_SIZE  # the JSONL records outweigh the CSV
    assert JobsRepository(cfg.jobs_table).get(transformed.job_id).status == JobStatus.TRANSFORMED

    if counter is None:
        return
    small = GeneratedS3(16 * MiB)
    extracted_small = _extracted_from(aws, monkeypatch, small, "uploads/generated-16.csv")
    tracemalloc.start()
    try:
        steps.transform(extracted_small, cfg)
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert traced_peak < limit_mib * MiB, f"traced peak {traced_peak / MiB:.1f} MiB"
    assert len(small.part_sizes) >= 4
