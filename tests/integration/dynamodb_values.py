"""Hypothesis strategies for DynamoDB attribute values in wire form (`{"S": "x"}`, `{"M": {...}}`), for
the tests that hold the local stack's DynamoDB paths to moto's own answers."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

TEXT = st.text(min_size=1, max_size=12)
NUMBER = st.integers(-(10**9), 10**9).map(str)
BLOB = st.binary(min_size=1, max_size=12)

# Every scalar and set type.
scalar = st.one_of(
    TEXT.map(lambda v: {"S": v}),
    NUMBER.map(lambda v: {"N": v}),
    BLOB.map(lambda v: {"B": v}),
    st.booleans().map(lambda v: {"BOOL": v}),
    st.just({"NULL": True}),
    st.sets(TEXT, min_size=1, max_size=3).map(lambda v: {"SS": sorted(v)}),
    st.sets(NUMBER, min_size=1, max_size=3).map(lambda v: {"NS": sorted(v)}),
    st.sets(BLOB, min_size=1, max_size=3).map(lambda v: {"BS": sorted(v)}),
)


def attribute(names: SearchStrategy[str] = TEXT) -> SearchStrategy[dict]:
    """Any attribute value: scalars, and maps (keys drawn from `names`) and lists nesting them."""
    return st.recursive(
        scalar,
        lambda inner: st.one_of(
            st.dictionaries(names, inner, max_size=3).map(lambda v: {"M": v}),
            st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        ),
        max_leaves=12,
    )


def item(names: SearchStrategy[str] = TEXT, max_size: int = 6) -> SearchStrategy[dict]:
    """An item's attributes, named from `names`."""
    return st.dictionaries(names, attribute(names), min_size=1, max_size=max_size)
