"""S3 copy conditions on the local stack: moto 5.2.5 ignores `x-amz-copy-source-if-match` on CopyObject and
UploadPartCopy, which AWS enforces with 412 PreconditionFailed when the source's ETag differs
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html#API_CopyObject_RequestSyntax,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html). finalize relies on it so that a
staged object replaced between its check and its copy is never published: this patch refuses such a copy
as AWS does, inside the moto process (or in-process under `mock_aws`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

HEADER = "x-amz-copy-source-if-match"


def _source(headers: Any) -> tuple[str, str, str | None]:
    copy_source = headers.get("x-amz-copy-source")
    if isinstance(copy_source, bytes):
        copy_source = copy_source.decode("utf-8")
    parsed = urlparse(copy_source)
    bucket, key = unquote(parsed.path).lstrip("/").split("/", 1)
    return bucket, key, parse_qs(parsed.query).get("versionId", [None])[0]


def _check(response: Any) -> None:
    """Raise PreconditionFailed when the request's source ETag condition does not hold."""
    from moto.s3.exceptions import PreconditionFailed

    wanted = response.headers.get(HEADER)
    if not wanted:
        return
    bucket, key, version = _source(response.headers)
    source = response.backend.get_object(bucket, key, version_id=version)
    if source is None:  # moto answers the missing source itself
        return
    if wanted.strip().strip('"') not in ("*", source.etag.strip('"')):
        raise PreconditionFailed(failed_condition="x-amz-copy-source-If-Match")


def enforce_copy_source_if_match() -> Callable[[], None]:
    """Patch moto's S3 copy handlers (idempotent); returns the function that restores them."""
    from moto.s3.responses import S3Response

    originals = {name: getattr(S3Response, name) for name in ("copy_object", "upload_part_copy")}
    if any(getattr(method, "_checks_if_match", False) for method in originals.values()):
        return lambda: None

    def checked(original: Callable[..., Any]) -> Callable[..., Any]:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            _check(self)
            return original(self, *args, **kwargs)

        method._checks_if_match = True  # type: ignore[attr-defined]
        return method

    for name, original in originals.items():
        setattr(S3Response, name, checked(original))

    def restore() -> None:
        for name, original in originals.items():
            setattr(S3Response, name, original)

    return restore
