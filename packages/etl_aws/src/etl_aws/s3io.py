"""S3 as streams: bounded-memory reads pinned to one version, multipart writes aborted on failure."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError

from etl_aws import clients

PART_SIZE = 8 * 1024 * 1024  # S3 minimum is 5 MiB (except the last part)
# boto3's managed copy (s3transfer) copies an object smaller than its multipart threshold (8 MiB by
# default) with one CopyObject, after a HeadObject to learn its size. Where the caller knows the size of
# the exact version it copies, that CopyObject is made directly: one request fewer, same result.
SINGLE_COPY_LIMIT = 8 * 1024 * 1024
# botocore wraps a connection reset while streaming a body in ResponseStreamingError.
_RESUMABLE = (ConnectionError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError, ProtocolError)
_MAX_RESUMES = 5


class ObjectReader(io.RawIOBase):
    """Reads one object version front to back; a dropped connection resumes with a Range request.

    Pinning the version (or the ETag, when versioning is off) means a re-upload of the same key while
    we read can never mix two files.
    """

    def __init__(
        self,
        bucket: str,
        key: str,
        version_id: str | None = None,
        etag: str | None = None,
        s3: Any | None = None,
    ) -> None:
        self._s3 = s3 or clients.client("s3")
        self._args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            self._args["VersionId"] = version_id
        elif etag:
            self._args["IfMatch"] = f'"{etag}"'
        self._pos = 0
        self._body: Any = None
        self._resumes = 0

    def readable(self) -> bool:
        return True

    def _open(self) -> None:
        args = dict(self._args)
        if self._pos:
            args["Range"] = f"bytes={self._pos}-"
        self._body = self._s3.get_object(**args)["Body"]

    def readinto(self, buffer: Any) -> int:
        while True:
            try:
                if self._body is None:
                    self._open()
                chunk = self._body.read(len(buffer))
                break
            except _RESUMABLE:
                self._resumes += 1
                if self._resumes > _MAX_RESUMES:
                    raise
                self._body = None
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                    return 0  # resumed exactly at the end
                raise
        n = len(chunk)
        buffer[:n] = chunk
        self._pos += n
        return n

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None
        super().close()


def open_object(
    bucket: str, key: str, version_id: str | None = None, etag: str | None = None
) -> io.BufferedReader:
    """A buffered binary stream over one object version."""
    return io.BufferedReader(ObjectReader(bucket, key, version_id, etag), buffer_size=1024 * 1024)


@dataclass(frozen=True)
class Written:
    """One object as written: its key, the SHA-256 of its whole content (hex, computed on the bytes sent,
    so anyone can check it with `sha256sum`), its size, and the ETag and VersionId S3 answered with."""

    key: str
    sha256: str
    bytes: int
    etag: str
    version_id: str | None

    def record(self) -> dict[str, Any]:
        """The small map a job keeps of it (no None values: DynamoDB maps hold them poorly)."""
        out: dict[str, Any] = {"key": self.key, "sha256": self.sha256, "bytes": self.bytes, "etag": self.etag}
        if self.version_id:
            out["version_id"] = self.version_id
        return out


def _written(key: str, digest: Any, size: int, answer: dict[str, Any]) -> Written:
    version = answer.get("VersionId")
    return Written(
        key=key,
        sha256=digest.hexdigest(),
        bytes=size,
        etag=str(answer.get("ETag", "")).strip('"'),
        version_id=version if version not in (None, "null") else None,
    )


class MultipartWriter(io.RawIOBase):
    """A write-only stream into one S3 object: parts of PART_SIZE, one PUT for small objects.

    Use as a context manager: a clean exit completes the upload, an exception aborts it so no partial
    object and no orphaned parts are left behind. After a clean exit `written` describes the object
    (SHA-256 of the whole content, ETag, VersionId): a multipart object's own S3 checksum is a checksum
    of its parts' checksums (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-
    integrity.html), so the whole-content hash is computed here, on the bytes as they are written.
    """

    def __init__(
        self, bucket: str, key: str, content_type: str = "application/x-ndjson", s3: Any | None = None
    ) -> None:
        self._s3 = s3 or clients.client("s3")
        self.bucket = bucket
        self.key = key
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._sha256 = hashlib.sha256()
        self.bytes_written = 0
        self.written: Written | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        self._sha256.update(data)
        self.bytes_written += len(data)
        while len(self._buffer) >= PART_SIZE:
            self._flush_part()
        return len(data)

    def _flush_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self._content_type
            )["UploadId"]
        number = len(self._parts) + 1
        body = bytes(memoryview(self._buffer)[:PART_SIZE])  # one copy (slicing a bytearray is another)
        del self._buffer[: len(body)]
        etag = self._s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
        )["ETag"]
        self._parts.append({"PartNumber": number, "ETag": etag})

    def complete(self) -> None:
        if self._upload_id is None:
            answer = self._s3.put_object(
                Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer), ContentType=self._content_type
            )
        else:
            while self._buffer:
                self._flush_part()
            answer = self._s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._buffer.clear()
        self.written = _written(self.key, self._sha256, self.bytes_written, answer)

    def abort(self) -> None:
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = None
        self._buffer.clear()

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is not None:
                self.abort()
                return
            try:
                self.complete()
            except BaseException:  # a part or the completion failed: leave no orphaned parts
                self.abort()
                raise
        finally:
            super().close()


# ---- single requests the steps make --------------------------------------------------------------------

_MISSING = ("404", "NoSuchKey", "NoSuchVersion")
_GONE = (*_MISSING, "412", "PreconditionFailed")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _version_args(bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
    args: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        args["VersionId"] = version_id
    return args


def head(
    bucket: str,
    key: str,
    version_id: str | None = None,
    denied_is_missing: bool = False,
    s3: Any | None = None,
) -> dict | None:
    """HeadObject's answer, or None when the object (version) does not exist. Without s3:ListBucket S3
    answers 403 for a missing key: `denied_is_missing` reads that as missing too."""
    try:
        return (s3 or clients.client("s3")).head_object(**_version_args(bucket, key, version_id))
    except ClientError as exc:
        if _code(exc) in _MISSING or (denied_is_missing and _code(exc) == "403"):
            return None
        raise


def read_start(bucket: str, key: str, version_id: str | None, length: int) -> bytes:
    """The first `length` bytes of one object version."""
    args = _version_args(bucket, key, version_id) | {"Range": f"bytes=0-{length - 1}"}
    return clients.client("s3").get_object(**args)["Body"].read()


def put_json(bucket: str, key: str, value: Any) -> Written:
    """Write `value` as JSON; what was written (its SHA-256, ETag, VersionId)."""
    body = json.dumps(value, indent=2, sort_keys=True).encode()
    answer = clients.client("s3").put_object(
        Bucket=bucket, Key=key, Body=body, ContentType="application/json"
    )
    return _written(key, hashlib.sha256(body), len(body), answer)


def copy(
    bucket: str,
    source_key: str,
    target_key: str,
    version_id: str | None = None,
    if_match: str | None = None,
    size: int | None = None,
) -> None:
    """Copy within a bucket (multipart for large objects, as boto3's managed copy does).

    `version_id` copies that version; `if_match` (an ETag) makes S3 refuse the copy with 412
    PreconditionFailed unless the source still has that ETag (`x-amz-copy-source-if-match`, applied to
    every part of a multipart copy: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html). `size`: the source
    version's size when known (saves the managed copy's HeadObject)."""
    source: dict[str, str] = {"Bucket": bucket, "Key": source_key}
    if version_id:
        source["VersionId"] = version_id
    extra = {"CopySourceIfMatch": f'"{if_match}"'} if if_match else {}
    _copy(clients.client("s3"), source, bucket, target_key, extra, size)


def _copy(
    s3: Any, source: dict[str, str], bucket: str, key: str, extra: dict[str, str], size: int | None
) -> None:
    """One CopyObject for a source of known size under SINGLE_COPY_LIMIT; boto3's managed copy otherwise."""
    if size is not None and 0 < size < SINGLE_COPY_LIMIT:
        s3.copy_object(CopySource=source, Bucket=bucket, Key=key, **extra)
    else:
        s3.copy(source, bucket, key, ExtraArgs=extra or None)


def precondition_failed(exc: ClientError) -> bool:
    """S3's answer to a condition that did not hold (412), or to a version that no longer exists."""
    return _code(exc) in _GONE


def move_version(
    bucket: str,
    key: str,
    version_id: str | None,
    etag: str | None,
    target_key: str,
    s3: Any | None = None,
    size: int | None = None,
) -> bool:
    """Move exactly one object version to `target_key` in the same bucket: copy it, then delete that
    version (an object without versions is deleted only while its ETag is still the pinned one, so a
    newer upload of the same key is never touched). Safe to run again after a crash.

    False when the version no longer exists and was never moved (deleted, or overwritten in a bucket
    without versioning). `s3`: a client of the caller's (default: the process-wide one); `size`: the
    version's size when known (see `copy`)."""
    s3 = s3 or clients.client("s3")
    source: dict[str, str] = {"Bucket": bucket, "Key": key}
    extra: dict[str, str] = {}
    if version_id:
        source["VersionId"] = version_id
    elif etag:
        extra["CopySourceIfMatch"] = f'"{etag}"'  # never move another upload's content
    try:
        _copy(s3, source, bucket, target_key, extra, size)
    except ClientError as exc:
        if _code(exc) not in _GONE:
            raise
        return head(bucket, target_key, s3=s3) is not None  # an earlier run moved it, then removed the source
    if version_id:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
        return True
    current = head(bucket, key, s3=s3)
    if current is not None and str(current.get("ETag", "")).strip('"') == etag:
        s3.delete_object(Bucket=bucket, Key=key)
    return True


def delete_keys(bucket: str, keys: list[str], s3: Any | None = None) -> None:
    """Delete up to 1,000 keys in one request; keys that do not exist are no error."""
    objects = [{"Key": key} for key in keys]
    (s3 or clients.client("s3")).delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
