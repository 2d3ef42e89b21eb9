"""The token limit a LlamaIndex adapter defaults to."""

from __future__ import annotations

__all__ = ["DEFAULT_TOKEN_LIMIT"]

DEFAULT_TOKEN_LIMIT = 3000  # ChatMemoryBuffer's default
