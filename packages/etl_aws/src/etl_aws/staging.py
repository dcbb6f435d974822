"""What a decision is bound to: the staged outputs exactly as the pipeline wrote them.

Each staged object (records, rejects, manifest) is recorded on its job when written: key, SHA-256 of the
whole content, size, ETag and VersionId (the output bucket is versioned). The review page shows the
hashes, a decision carries them, and finalize publishes only the recorded versions, and only while each
staged key still holds exactly that version (see `etl_aws.finalize`).
"""

from __future__ import annotations

from typing import Any

from etl_aws import s3io

# The error code of a job whose staged data changed after it was written (the job ends FAILED).
CHANGED = "staged_data_changed"
# The staged objects, in publishing order: the manifest last (a consumer that sees it sees the whole).
NAMES = ("records", "rejects", "manifest")


def staged_records(records: s3io.Written | None, rejects: s3io.Written | None) -> dict[str, Any]:
    """What the transform wrote, as its job records it."""
    return {name: w.record() for name, w in (("records", records), ("rejects", rejects)) if w is not None}


def _version(value: Any) -> str | None:
    return value if value not in (None, "", "null") else None


def changed_since_written(recorded: dict[str, Any] | None, head: dict[str, Any]) -> str | None:
    """How the object S3 holds now differs from the one recorded when written (None: it does not)."""
    if not recorded:
        return None
    if _version(head.get("VersionId")) != _version(recorded.get("version_id")):
        return "was replaced after it was written (another version is current)"
    if str(head.get("ETag", "")).strip('"') != recorded.get("etag"):
        return "was replaced after it was written (its ETag changed)"
    return None


def from_head(recorded: dict[str, Any] | None, key: str, head: dict[str, Any]) -> dict[str, Any]:
    """The record of a staged object: the written one, completed from HeadObject (a job transformed
    before hashes were recorded gets its ETag and VersionId, without a hash)."""
    out = dict(recorded or {"key": key})
    out["bytes"] = int(head.get("ContentLength", out.get("bytes", 0)))
    out.setdefault("etag", str(head.get("ETag", "")).strip('"'))
    version = _version(head.get("VersionId"))
    if version and "version_id" not in out:
        out["version_id"] = version
    return out


def file_entry(recorded: dict[str, Any], lines: int) -> dict[str, Any]:
    """A staged file as the manifest lists it (with its SHA-256 when recorded, for consumers to check)."""
    entry: dict[str, Any] = {"bytes": int(recorded.get("bytes", 0)), "lines": lines}
    if recorded.get("sha256"):
        entry["sha256"] = recorded["sha256"]
    return entry


def hashes(staged: dict[str, Any] | None) -> dict[str, str]:
    """name → SHA-256 of each staged object that has one recorded (what a decision carries)."""
    return {n: str(staged[n]["sha256"]) for n in NAMES if staged and n in staged and staged[n].get("sha256")}


def binding_problem(presented: dict[str, str] | None, staged: dict[str, Any] | None) -> str | None:
    """Why a decision presenting `presented` does not fit the recorded staged data (None: it fits).

    `presented` None or empty: the caller did not bind the decision (operators may omit it); it is then
    bound to the recorded hashes."""
    if not presented:
        return None
    recorded = hashes(staged)
    if {k: v.strip().lower() for k, v in presented.items()} == recorded:
        return None
    return (
        "the staged data changed since the page was rendered (its hashes differ from the ones presented): "
        "reload the review page and decide again"
    )


def current_problem(bucket: str, staged: dict[str, Any]) -> str | None:
    """Why the staged objects S3 holds now are not the recorded ones (None: every one still matches).

    One HeadObject per object, before anything is archived or published."""
    for name in NAMES:
        recorded = staged.get(name)
        if not recorded:
            continue
        head = s3io.head(bucket, recorded["key"])
        if head is None:
            return f"the staged {name} output was deleted after the decision was requested"
        changed = changed_since_written(recorded, head)
        if changed:
            return f"the staged {name} output {changed}"
    return None
