"""AWS's limits, enforced on the local stack: what AWS refuses is refused here, with AWS's error code.

moto and the durable testing engine accept requests that AWS refuses (an S3 key of 2,000 bytes, a
Step Functions task result of 1 MB, a durable checkpoint of 10 MB...), so a test on them would pass
where a deployment fails. This module holds one table of the limits that matter to this system and
enforces each where the local stack can see it, without any change to production code:

- `install()` adds a botocore `before-parameter-build` hook to every client created afterwards in this
  process (the handlers' shared clients included): the call's parameters are checked against this
  table and against the service model's own length / pattern / range constraints (botocore checks only
  minimums client-side; AWS checks all of them server-side) before any request is sent.
- `guard_durable_checkpoints(service_client)` refuses a durable checkpoint update over 256 KB as the
  Lambda service does (a 400 `InvalidParameterValueException`, which fails the execution).
- `task_result_error(payload)` is the `States.DataLimitExceeded` failure of a Step Functions task whose
  result exceeds 256 KB (used where moto's interpreter receives Lambda task results).
- The local API gateway applies `API_GATEWAY_TIMEOUT` and `API_GATEWAY_PAYLOAD` (see `gateway.py`).

Each limit: value → error (HTTP status) · where it is enforced · source.

- S3 object key: 1,024 bytes UTF-8 → KeyTooLongError (400) · hook · [S3 keys], [S3 errors]
- S3 user metadata: 2 KB, keys + values in UTF-8 → MetadataTooLarge (400) · hook · [S3 metadata]
- S3 CopyObject onto itself without a metadata, storage or encryption change → InvalidRequest (400)
  · hook · [S3 CopyObject]
- S3 DeleteObjects: 1,000 keys a request → MalformedXML (400) · hook · [S3 DeleteObjects]
- Step Functions execution name: 1-80 characters; no white space, brackets, wildcards,
  `" # % \\ ^ | ~ ` $ & , ; : /` or control characters → InvalidName (400) · hook · [SFN StartExecution]
- Step Functions execution input and SendTaskSuccess output: 262,144 bytes UTF-8
  → ValidationException (400) · hook · [SFN quotas]
- Step Functions task result: 262,144 bytes → States.DataLimitExceeded · `task_result_error` · [SFN quotas]
- Step Functions task token: 2,048 characters → ValidationException (400) · service model
  · [SFN SendTaskSuccess]
- Durable execution name: 1-64 of `[a-zA-Z0-9-_]` → ValidationException (400) · service model
  · [Lambda Invoke]
- Durable execution input (asynchronous Invoke): 262,144 bytes → RequestTooLargeException (413) · hook
  · [GetDurableExecution]
- Durable checkpoint (a step's result, a callback's result): 262,144 bytes
  → InvalidParameterValueException (400), the execution fails · `guard_durable_checkpoints`
  · [Lambda quotas]
- Durable callback id: base64; callback result: 1,048,576 bytes → ValidationException (400)
  · service model · [Lambda API]
- Lambda Invoke payload: 6,291,456 bytes synchronous, 1,048,576 bytes asynchronous
  → RequestTooLargeException (413) · hook · [Lambda Invoke]
- SNS message, body and attributes: 262,144 bytes → InvalidParameter (400) · hook (moto counts
  characters) · [SNS Publish]
- SNS subject: under 100 characters, no line breaks or control characters → InvalidParameter (400)
  · hook · [SNS Publish]
- SQS message: the queue's MaximumMessageSize, at most 1 MiB → InvalidParameterValue (400) · moto
  · [SQS quotas]
- DynamoDB item: 400 KB, names and values → ValidationException (400) · moto (put and update)
  · [DynamoDB quotas]
- API Gateway integration timeout: 29 s → 504 "Endpoint request timed out" · local gateway
  · [API Gateway quotas]
- API Gateway payload: 10 MB → 413 "Request Too Long" · local gateway · [API Gateway quotas]
- every other modeled constraint (maximum length, pattern, maximum value) of an operation's input
  → ValidationException (400) · service model

[S3 keys]: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
[S3 errors]: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
[S3 metadata]: https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html
[S3 CopyObject]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
[S3 DeleteObjects]: https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
[SFN StartExecution]: https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
[SFN SendTaskSuccess]: https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html
[SFN quotas]: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
[Lambda Invoke]: https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
[Lambda API]: https://docs.aws.amazon.com/lambda/latest/api/API_SendDurableExecutionCallbackSuccess.html
[GetDurableExecution]: https://docs.aws.amazon.com/lambda/latest/api/API_GetDurableExecution.html
[Lambda quotas]: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
[SNS Publish]: https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
[SQS quotas]: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
[DynamoDB quotas]: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
[API Gateway quotas]: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore import handlers
from botocore.errorfactory import ClientExceptionsFactory
from botocore.exceptions import ClientError

KB = 1024
S3_MAX_KEY_BYTES = 1024
S3_MAX_METADATA_BYTES = 2 * KB
S3_MAX_DELETE_KEYS = 1000
SFN_MAX_NAME = 80
SFN_MAX_PAYLOAD = 256 * KB
DURABLE_MAX_INPUT = 256 * KB
DURABLE_MAX_CHECKPOINT = 256 * KB
LAMBDA_MAX_SYNC_PAYLOAD = 6 * KB * KB
LAMBDA_MAX_ASYNC_PAYLOAD = KB * KB
SNS_MAX_MESSAGE = 256 * KB
SNS_MAX_SUBJECT = 99  # "less than 100 characters"
API_GATEWAY_TIMEOUT = 29.0
API_GATEWAY_PAYLOAD = 10 * KB * KB

# Step Functions: "A name must not contain: white space, brackets < > { } [ ], wildcard characters ? *,
# special characters " # % \ ^ | ~ ` $ & , ; : /, control characters (U+0000-001F, U+007F-009F)."
_SFN_NAME_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class Violation:
    """A request AWS would refuse: the error code, its HTTP status, and AWS's message."""

    code: str
    status: int
    message: str


def _utf8(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    if hasattr(value, "read"):  # a stream body: its size is not ours to measure
        return 0
    return len(str(value).encode())


def _validation(field: str, constraint: str) -> Violation:
    """AWS's wording for a parameter that breaks a modeled constraint."""
    return Violation(
        "ValidationException",
        400,
        f"1 validation error detected: Value at '{field}' failed to satisfy constraint: {constraint}",
    )


# ---- checks of one call's parameters ------------------------------------------------------------


def _s3_key(key: Any, field: str = "key") -> Violation | None:
    if isinstance(key, str) and len(key.encode()) > S3_MAX_KEY_BYTES:
        return Violation("KeyTooLongError", 400, f"Your key is too long ({field}: {len(key.encode())} bytes)")
    return None


def _s3(operation: str, params: Mapping[str, Any]) -> Violation | None:
    found = _s3_key(params.get("Key"))
    if found:
        return found
    metadata = params.get("Metadata") or {}
    size = sum(_utf8(k) + _utf8(v) for k, v in metadata.items())
    if size > S3_MAX_METADATA_BYTES:
        return Violation(
            "MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size"
        )
    if operation in ("CopyObject", "UploadPartCopy"):
        return _s3_copy(params)
    if operation == "DeleteObjects":
        objects = (params.get("Delete") or {}).get("Objects") or []
        if len(objects) > S3_MAX_DELETE_KEYS:
            return Violation("MalformedXML", 400, "The XML you provided was not well-formed")
        for item in objects:
            found = _s3_key(item.get("Key"), "Delete.Objects.Key")
            if found:
                return found
    return None


def _s3_copy(params: Mapping[str, Any]) -> Violation | None:
    source = params.get("CopySource")
    if isinstance(source, str):
        path, _, query = source.lstrip("/").partition("?")
        bucket, _, key = path.partition("/")
        from urllib.parse import unquote

        key = unquote(key)
        version = query.removeprefix("versionId=") if query.startswith("versionId=") else None
    elif isinstance(source, Mapping):
        bucket, key, version = source.get("Bucket"), source.get("Key"), source.get("VersionId")
    else:
        return None
    found = _s3_key(key, "x-amz-copy-source")
    if found:
        return found
    changes = ("StorageClass", "WebsiteRedirectLocation", "ServerSideEncryption", "SSEKMSKeyId")
    same = bucket == params.get("Bucket") and key == params.get("Key") and not version
    if same and params.get("MetadataDirective") != "REPLACE" and not any(params.get(c) for c in changes):
        return Violation(
            "InvalidRequest",
            400,
            "This copy request is illegal because it is trying to copy an object to itself without "
            "changing the object's metadata, storage class, website redirect location or encryption "
            "attributes.",
        )
    return None


def _sfn(operation: str, params: Mapping[str, Any]) -> Violation | None:
    if operation == "StartExecution":
        name = params.get("name")
        if isinstance(name, str) and (
            not name or len(name) > SFN_MAX_NAME or _SFN_NAME_FORBIDDEN.search(name)
        ):
            return Violation("InvalidName", 400, f"Invalid Name: '{name[:100]}'")
        if _utf8(params.get("input") or "") > SFN_MAX_PAYLOAD:
            return _validation("input", f"Member must have length less than or equal to {SFN_MAX_PAYLOAD}")
    if operation == "SendTaskSuccess" and _utf8(params.get("output") or "") > SFN_MAX_PAYLOAD:
        return _validation("output", f"Member must have length less than or equal to {SFN_MAX_PAYLOAD}")
    return None


def _lambda(operation: str, params: Mapping[str, Any]) -> Violation | None:
    if operation != "Invoke":
        return None
    size = _utf8(params.get("Payload") or b"")
    asynchronous = params.get("InvocationType") == "Event"
    if asynchronous and params.get("DurableExecutionName"):
        limit = DURABLE_MAX_INPUT
    else:
        limit = LAMBDA_MAX_ASYNC_PAYLOAD if asynchronous else LAMBDA_MAX_SYNC_PAYLOAD
    if size > limit:
        return Violation(
            "RequestTooLargeException",
            413,
            f"Request must be smaller than {limit} bytes for the "
            f"{'Event' if asynchronous else 'RequestResponse'} invocation type",
        )
    return None


def sns_subject_problem(subject: str) -> str | None:
    """Why SNS would refuse `subject`, or None: no line breaks or control characters, under 100 chars,
    starting with a letter, number or punctuation mark."""
    if not subject or len(subject) > SNS_MAX_SUBJECT:
        return "Subject must be less than 100 characters long"
    if _CONTROL.search(subject):
        return "Subject must not contain line breaks or control characters"
    if subject[0].isspace():
        return "Subject must begin with a letter, number or punctuation mark"
    return None


def _sns(operation: str, params: Mapping[str, Any]) -> Violation | None:
    if operation != "Publish":
        return None
    subject = params.get("Subject")
    if subject is not None:
        problem = sns_subject_problem(str(subject))
        if problem:
            return Violation("InvalidParameter", 400, f"Invalid parameter: Subject ({problem})")
    size = _utf8(params.get("Message") or "")
    for name, attribute in (params.get("MessageAttributes") or {}).items():
        size += _utf8(name) + _utf8(attribute.get("DataType", ""))
        size += _utf8(attribute.get("StringValue") or attribute.get("BinaryValue") or "")
    if size > SNS_MAX_MESSAGE:
        return Violation("InvalidParameter", 400, "Invalid parameter: Message too long")
    return None


_SERVICE_CHECKS: dict[str, Callable[[str, Mapping[str, Any]], Violation | None]] = {
    "s3": _s3,
    "stepfunctions": _sfn,
    "lambda": _lambda,
    "sns": _sns,
}


def check_call(
    service: str, operation: str, params: Mapping[str, Any], model: Any = None
) -> Violation | None:
    """The violation AWS would answer this call with, or None. `service` is botocore's service name
    (s3, stepfunctions, lambda, sns, ...); `model`, when given, is the operation's model, whose
    maximum lengths, patterns and ranges are checked too."""
    check = _SERVICE_CHECKS.get(service)
    found = check(operation, params) if check else None
    if found is None and model is not None and service != "s3" and model.input_shape is not None:
        found = next(_model_violations(model.input_shape, params, ""), None)
    return found


# ---- the service model's own constraints -----------------------------------------------------------


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    if "\\p" in text:  # Java-only classes: not expressible here, left to the service
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


def _model_violations(shape: Any, value: Any, path: str) -> Iterator[Violation]:
    """Maximum lengths, patterns and numeric ranges of the modeled input (AWS checks them server-side;
    botocore checks minimums only)."""
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                yield from _model_violations(member, value[name], f"{path}.{name}" if path else name)
    elif kind == "list" and isinstance(value, list | tuple):
        if "max" in meta and len(value) > meta["max"]:
            yield _validation(path, f"Member must have length less than or equal to {meta['max']}")
        for i, item in enumerate(value):
            yield from _model_violations(shape.member, item, f"{path}.{i + 1}")
    elif kind == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            yield from _model_violations(shape.value, item, f"{path}.{key}")
    elif kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            yield _validation(path, f"Member must have length less than or equal to {meta['max']}")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and value and pattern.fullmatch(value) is None:
            yield _validation(path, f"Member must satisfy regular expression pattern: {meta['pattern']}")
    elif kind == "blob" and isinstance(value, bytes | bytearray | str):
        if "max" in meta and _utf8(value) > meta["max"]:
            yield _validation(path, f"Member must have length less than or equal to {meta['max']}")
    elif kind in ("integer", "long") and type(value) is int and value > meta.get("max", value):
        yield _validation(path, f"Member must have value less than or equal to {meta['max']}")


# ---- the botocore hook ----------------------------------------------------------------------------

_exceptions = ClientExceptionsFactory()
_installed = threading.Lock()
_EVENT = "before-parameter-build"


def client_error(model: Any, violation: Violation) -> ClientError:
    """The exception botocore raises for this error from this service (its modeled class when it has one)."""
    response = {
        "Error": {"Code": violation.code, "Message": violation.message},
        "ResponseMetadata": {"HTTPStatusCode": violation.status},
    }
    factory = _exceptions.create_client_exceptions(model.service_model)
    return factory.from_code(violation.code)(response, model.name)


def _before_parameter_build(params: Mapping[str, Any], model: Any, **_: Any) -> None:
    violation = check_call(model.service_model.service_name, model.name, params, model)
    if violation is not None:
        raise client_error(model, violation)


def install() -> None:
    """Check every call of every botocore client created from now on in this process (idempotent).
    Clients made earlier (cached ones) keep their handlers: reset them after installing."""
    with _installed:
        if not any(spec[1] is _before_parameter_build for spec in handlers.BUILTIN_HANDLERS):
            handlers.BUILTIN_HANDLERS.append((_EVENT, _before_parameter_build))


def uninstall() -> None:
    with _installed:
        handlers.BUILTIN_HANDLERS[:] = [
            s for s in handlers.BUILTIN_HANDLERS if s[1] is not _before_parameter_build
        ]


# ---- durable checkpoints and Step Functions task results ------------------------------------------


def guard_durable_checkpoints(service_client: Any) -> None:
    """Make the durable testing engine's service client refuse checkpoint updates over 256 KB, as the
    Lambda service refuses them (400 InvalidParameterValueException: the execution fails)."""
    from aws_durable_execution_sdk_python.exceptions import CheckpointError

    original = service_client.checkpoint
    if getattr(original, "_etl_guarded", False):
        return

    def checkpoint(*args: Any, **kwargs: Any) -> Any:
        updates = kwargs["updates"] if "updates" in kwargs else args[2]
        for update in updates:
            payload = getattr(update, "payload", None)
            size = _utf8(payload) if payload is not None else 0
            if size > DURABLE_MAX_CHECKPOINT:
                error = ClientError(
                    {
                        "Error": {
                            "Code": "InvalidParameterValueException",
                            "Message": f"Operation payload size {size} exceeds the maximum of "
                            f"{DURABLE_MAX_CHECKPOINT} bytes ({update.name or update.operation_id})",
                        },
                        "ResponseMetadata": {"HTTPStatusCode": 400},
                    },
                    "CheckpointDurableExecution",
                )
                raise CheckpointError.from_exception(error)
        return original(*args, **kwargs)

    checkpoint._etl_guarded = True  # type: ignore[attr-defined]
    service_client.checkpoint = checkpoint


def task_result_error(payload: str) -> str | None:
    """The Lambda-error payload standing for `States.DataLimitExceeded` when a task's result is over
    256 KB (AWS fails the state; moto would pass it on), else None."""
    size = len(payload.encode())
    if size <= SFN_MAX_PAYLOAD:
        return None
    return json.dumps(
        {
            "errorType": "States.DataLimitExceeded",
            "errorMessage": f"The state/task returned a result with a size exceeding the maximum number "
            f"of bytes service limit ({size} > {SFN_MAX_PAYLOAD})",
        }
    )
