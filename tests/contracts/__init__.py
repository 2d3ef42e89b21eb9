"""Contract suites over every implementation of a core protocol, the framework adapters' included."""

from __future__ import annotations

import langchain_nexint
import llama_index_nexint
import nexint_core

PACKAGES = (nexint_core, langchain_nexint, llama_index_nexint)


def public_classes(protocol: type) -> set[type]:
    """The public classes of the core and the adapters that implement ``protocol`` by name and shape:
    named like it (``...Embedder``, ``...Summarizer``), the protocol itself left out."""
    found = set()
    for package in PACKAGES:
        for name in package.__all__:
            value = getattr(package, name)
            if isinstance(value, type) and value is not protocol and name.endswith(protocol.__name__):
                found.add(value)
    return found
