"""Where a job's objects live: every key a job writes is derived here, and checked before any work.

- output bucket: `staging/<job_id>/{records.jsonl,rejects.jsonl,manifest.json}` until a decision, then
  `processed/<job_id>/…` (what consumers read: approved data only), and if it is unpublished later
  `retracted/<job_id>/…` with `retraction.json`;
- raw bucket: the upload `uploads/…/<name>.csv`, moved on a decision to `archive/<job_id>/<name>.csv`.

S3 refuses keys over 1,024 bytes of UTF-8 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
object-keys.html). An upload key is at most that long, but the archive key adds the job id, so a long
enough file name would only fail at the very end, after a reviewer approved: `key_problem` finds it at
extract time instead.
"""

from __future__ import annotations

from etl_aws import contract as C

MAX_KEY_BYTES = 1024
OUTPUT_FILES = (C.RECORDS_FILE, C.REJECTS_FILE, C.MANIFEST_FILE)  # published in this order: manifest last


def staging_key(job_id: str, name: str) -> str:
    return f"{C.STAGING_PREFIX}{job_id}/{name}"


def processed_key(job_id: str, name: str) -> str:
    return f"{C.PROCESSED_PREFIX}{job_id}/{name}"


def retracted_key(job_id: str, name: str) -> str:
    return f"{C.RETRACTED_PREFIX}{job_id}/{name}"


def file_name(source_key: str) -> str:
    return source_key.rsplit("/", 1)[-1]


def dataset_of(source_key: str) -> str:
    """The dataset an upload belongs to: its key without the file name (`uploads/sales/a.csv` →
    `uploads/sales`). Uploads of the same folder are versions of one dataset and are compared."""
    return source_key.rsplit("/", 1)[0] if "/" in source_key else ""


def archive_key(job_id: str, source_key: str) -> str:
    """The archived source: `archive/<job_id>/<file name>` (the upload's file name, its folders dropped)."""
    return f"{C.ARCHIVE_PREFIX}{job_id}/{file_name(source_key)}"


def job_keys(job_id: str, source_key: str) -> list[str]:
    """Every key the job will write, in either bucket."""
    names = [key(job_id, n) for key in (staging_key, processed_key, retracted_key) for n in OUTPUT_FILES]
    names.append(retracted_key(job_id, C.RETRACTION_FILE))
    return [*names, archive_key(job_id, source_key)]


def key_problem(job_id: str, source_key: str) -> str | None:
    """Why the job cannot write one of its keys (in words for the uploader), or None."""
    longest = max(job_keys(job_id, source_key), key=lambda k: len(k.encode()))
    size = len(longest.encode())
    if size <= MAX_KEY_BYTES:
        return None
    room = MAX_KEY_BYTES - (size - len(file_name(source_key).encode()))
    return (
        f"the file name is too long: its key {longest[:60]!r}… would be {size:,} bytes, over S3's "
        f"{MAX_KEY_BYTES:,}-byte limit; rename the file to at most {max(room, 0):,} bytes (UTF-8) and "
        "upload it again"
    )
