"""etl_core: pure, streaming CSV validation and normalization to JSONL. Knows nothing of AWS."""

from etl_core.errors import FileError
from etl_core.process import process
from etl_core.schema import DEFAULT_SCHEMA, Schema
from etl_core.summary import Summary

__all__ = ["DEFAULT_SCHEMA", "FileError", "Schema", "Summary", "process"]
