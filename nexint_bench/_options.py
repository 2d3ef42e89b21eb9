"""Option parsing shared by the benchmarks."""

from __future__ import annotations

from nexint_core.errors import InvalidArgument

__all__ = ["positive_ints"]


def positive_ints(text: str, option: str, unit: str) -> list[int]:
    """``"512, 1_024,512"`` -> ``[512, 1024]``: comma-separated positive integers, ascending, without repeats."""
    values: set[int] = set()
    expected = f"{option} takes positive integers ({unit}) separated by commas"
    for part in text.split(","):
        try:
            value = int(part.strip().replace("_", ""))
        except ValueError:
            raise InvalidArgument(f"{expected}, got {part.strip()!r}") from None
        if value < 1:
            raise InvalidArgument(f"{expected}, got {value}")
        values.add(value)
    return sorted(values)
