from __future__ import annotations

import pytest

from nexint_core import InvalidArgument, PageId
from nexint_core.ids import IdAllocator


def test_ids_format_matches_memory_records() -> None:
    allocator = IdAllocator()
    assert allocator.next("MSG") == "MSG-000001"
    assert allocator.next("PRF") == "PRF-00001"
    assert PageId("PRF-00012").kind == "PRF"
    assert PageId("PRF-00012").number == 12


def test_ids_never_reissue_observed_ids() -> None:
    allocator = IdAllocator(["MSG-000041"])
    assert allocator.next() == "MSG-000042"


def test_ids_global_next_is_fresh_each_call() -> None:
    first, second = PageId.next(), PageId.next()
    assert first != second
    assert first.kind == second.kind == "MSG"


@pytest.mark.parametrize("bad", ["", "msg-1", "MSG_000001", "M-1", "MSG-", 42])
def test_ids_malformed_id_is_invalid_argument(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        PageId(bad)  # type: ignore[arg-type]


def test_ids_malformed_kind_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument):
        IdAllocator().next("bad kind")
