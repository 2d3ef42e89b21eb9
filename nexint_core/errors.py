"""Typed errors of nexint, all under one root with a stable ``code``.

::

    NexintError
    ├── InvalidArgument          (ValueError)       INVALID_ARGUMENT
    ├── PageNotFound             (KeyError)         PAGE_NOT_FOUND
    ├── DuplicatePage            (ValueError)       DUPLICATE_PAGE
    ├── PageTooLarge             (ValueError)       PAGE_TOO_LARGE
    ├── CoreBudgetExceeded       (RuntimeError)     CORE_BUDGET_EXCEEDED
    ├── UnknownPolicy            (ValueError)       UNKNOWN_POLICY
    ├── QuarantineViolation      (PermissionError)  QUARANTINE_VIOLATION
    ├── NamespaceViolation       (PermissionError)  NAMESPACE_VIOLATION
    ├── TokenizerUnavailable     (RuntimeError)     TOKENIZER_UNAVAILABLE
    └── StoreError               (OSError)          STORE_ERROR
        ├── StoreCorrupted                          STORE_CORRUPTED
        ├── StoreReadOnly                           STORE_READ_ONLY
        ├── StoreUnavailable                        STORE_UNAVAILABLE
        └── EmbedderMismatch                        EMBEDDER_MISMATCH
"""

from __future__ import annotations

__all__ = [
    "CoreBudgetExceeded",
    "DuplicatePage",
    "EmbedderMismatch",
    "InvalidArgument",
    "NamespaceViolation",
    "NexintError",
    "PageNotFound",
    "PageTooLarge",
    "QuarantineViolation",
    "StoreCorrupted",
    "StoreError",
    "StoreReadOnly",
    "StoreUnavailable",
    "TokenizerUnavailable",
    "UnknownPolicy",
]


class NexintError(Exception):
    """Root of every error nexint raises on purpose."""

    code: str = "NEXINT_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(NexintError, ValueError):
    """An argument is out of range, of the wrong type, or NaN."""

    code = "INVALID_ARGUMENT"


class PageNotFound(NexintError, KeyError):
    """No page with this id exists in the page table."""

    code = "PAGE_NOT_FOUND"

    def __init__(self, page_id: str) -> None:
        super().__init__(f"unknown page id {page_id!r}")
        self.page_id = page_id


class DuplicatePage(NexintError, ValueError):
    """A page with this id was already allocated."""

    code = "DUPLICATE_PAGE"


class PageTooLarge(NexintError, ValueError):
    """A page (or a tool-call group) can never fit in the memory budget."""

    code = "PAGE_TOO_LARGE"


class CoreBudgetExceeded(NexintError, RuntimeError):
    """Pinned pages would exceed the core budget."""

    code = "CORE_BUDGET_EXCEEDED"


class UnknownPolicy(NexintError, ValueError):
    """No eviction policy has this name."""

    code = "UNKNOWN_POLICY"


class QuarantineViolation(NexintError, PermissionError):
    """A quarantined page was about to reach the prompt or core without approval."""

    code = "QUARANTINE_VIOLATION"


class TokenizerUnavailable(NexintError, RuntimeError):
    """A tokenizer's data cannot be loaded without the network."""

    code = "TOKENIZER_UNAVAILABLE"


class NamespaceViolation(NexintError, PermissionError):
    """An operation reached outside the namespaces a manager may use."""

    code = "NAMESPACE_VIOLATION"


class StoreError(NexintError, OSError):
    """The swap store cannot be opened, read or written."""

    code = "STORE_ERROR"


class StoreCorrupted(StoreError):
    """A store file is damaged; nothing was overwritten."""

    code = "STORE_CORRUPTED"


class StoreReadOnly(StoreError):
    """A write reached a store (or a manager) opened read-only, or a store that cannot be written."""

    code = "STORE_READ_ONLY"


class StoreUnavailable(StoreError):
    """The database server cannot be reached (down, restarting, or refusing connections)."""

    code = "STORE_UNAVAILABLE"


class EmbedderMismatch(StoreError):
    """A store was built with another embedder (name or dimension) than the one given."""

    code = "EMBEDDER_MISMATCH"
