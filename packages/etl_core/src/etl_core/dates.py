"""Date normalization to ISO 8601, calendar-validated, with a fast path for the common shapes."""

from __future__ import annotations

from datetime import date, datetime

# Fixed-width shapes of the default formats: (separator index 1, separator index 2, sep, order).
_SHAPES = {
    "%Y-%m-%d": (4, 7, "-", "ymd"),
    "%m/%d/%Y": (2, 5, "/", "mdy"),
    "%d-%m-%Y": (2, 5, "-", "dmy"),
    "%Y/%m/%d": (4, 7, "/", "ymd"),
}
_CACHE_LIMIT = 1 << 16
# Only short values are memoized: a real date is short, and caching long junk would let memory grow
# with the size of the values rather than their count.
_CACHE_KEY_CHARS = 32


class DateNormalizer:
    """Maps a date string in any accepted format to `YYYY-MM-DD`, or "" when it is not a real date.

    Results are memoized in `cache` (dates repeat heavily in real files); hot loops may read `cache`
    directly and call the normalizer only on a miss. The memo is bounded so memory stays flat.
    """

    __slots__ = ("_formats", "_shapes", "cache")

    def __init__(self, formats: tuple[str, ...]) -> None:
        self._formats = formats
        self._shapes = [_SHAPES[f] for f in formats if f in _SHAPES]
        self.cache: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        result = self.cache.get(value)
        if result is not None:
            return result
        result = self._parse(value) or ""
        if len(value) > _CACHE_KEY_CHARS:
            return result
        if len(self.cache) >= _CACHE_LIMIT:
            self.cache.clear()
        self.cache[value] = result
        return result

    def _parse(self, value: str) -> str | None:
        if len(value) == 10 and value.isascii():
            for i, j, sep, order in self._shapes:
                if value[i] == sep and value[j] == sep:
                    parsed = _fixed(value, i, j, order)
                    if parsed is not None:
                        return parsed
        for fmt in self._formats:
            try:
                return datetime.strptime(value, fmt).date().isoformat()
            except ValueError:
                continue
        return None


def _fixed(value: str, i: int, j: int, order: str) -> str | None:
    a, b, c = value[:i], value[i + 1 : j], value[j + 1 :]
    if not (a.isdigit() and b.isdigit() and c.isdigit()):
        return None
    if order == "ymd":
        y, m, d = int(a), int(b), int(c)
    elif order == "mdy":
        m, d, y = int(a), int(b), int(c)
    else:
        d, m, y = int(a), int(b), int(c)
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None
