"""BM25 over one namespace's pages, held in memory as compact posting arrays.

Both stores search with it, so they rank the same pages the same way. A posting is one int64: the
page's sequence number (40 bits), its length in terms (16 bits) and the term's count in it (8 bits),
so scoring needs no other lookup. A query keeps its rarest terms until :data:`POSTING_BUDGET`
postings are reached, and scores them with one pass of NumPy, so its cost is bounded however large
the archive grows. A term in more pages than the budget could never be kept, so its postings are
dropped and only its count is kept (if deletions later bring it back under the budget, it stays
unsearchable until the index is rebuilt: a rare term it is not).
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nexint_core.errors import StoreCorrupted
from nexint_core.files import save_checked, verify_checked

__all__ = ["POSTING_BUDGET", "LexicalIndex"]

# Postings a lexical query may score: its rarest terms are kept until this is reached, so BM25 costs at
# most a few hundred microseconds however large the archive (a term in more pages is dropped from the query).
POSTING_BUDGET = 5_000

_MAGIC = b"NXLX0001"
_SEQ_SHIFT = 24
_LEN_MASK = 0xFFFF
_TF_MASK = 0xFF
_MAX_SEQ = (1 << 39) - 1


def _pack(seq: int, length: int, tf: int) -> int:
    return (seq << _SEQ_SHIFT) | (min(length, _LEN_MASK) << 8) | min(tf, _TF_MASK)


class LexicalIndex:
    """An inverted index of stemmed terms with BM25 ranking (k1 = 1.2, b = 0.75).

    >>> index = LexicalIndex()
    >>> index.add(1, ["teal", "colour"])
    >>> index.add(2, ["colour", "red", "car"])
    >>> [seq for seq, _ in index.search(["teal"], k=5)]
    [1]
    """

    K1, B = 1.2, 0.75
    __slots__ = ("_budget", "_overflow", "_postings", "docs", "total_length")

    def __init__(self, posting_budget: int = POSTING_BUDGET) -> None:
        self._budget = posting_budget
        self._postings: dict[str, array[int]] = {}
        self._overflow: dict[str, int] = {}  # pages holding each term too common to keep postings for
        self.docs = 0
        self.total_length = 0

    def __len__(self) -> int:
        return self.docs

    def add(self, seq: int, terms: Sequence[str]) -> None:
        """Index page ``seq`` (new to this index) with its terms, in order, repeats included."""
        if not 0 < seq <= _MAX_SEQ:
            raise ValueError(f"sequence number out of range: {seq}")
        length = len(terms)
        postings, overflow, budget = self._postings, self._overflow, self._budget
        base = _pack(seq, length, 0)
        for term, tf in Counter(terms).items():
            entries = postings.get(term)
            if entries is None:
                if term in overflow:
                    overflow[term] += 1
                    continue
                entries = postings[term] = array("q")
            entries.append(base | (tf if tf < _TF_MASK else _TF_MASK))
            if len(entries) > budget:  # never kept by a query again: keep the count only
                overflow[term] = len(entries)
                del postings[term]
        self.docs += 1
        self.total_length += length

    def add_many(self, rows: Iterable[tuple[int, Sequence[str]]]) -> None:
        """Index many ``(seq, terms)`` pages."""
        for seq, terms in rows:
            self.add(seq, terms)

    def remove(self, seq: int, terms: Sequence[str]) -> None:
        """Forget page ``seq``, which was indexed with ``terms``."""
        length = len(terms)
        for term, tf in Counter(terms).items():
            entries = self._postings.get(term)
            if entries is not None:
                try:
                    entries.remove(_pack(seq, length, tf))
                except ValueError:
                    continue
                if not entries:
                    del self._postings[term]
            elif term in self._overflow:
                self._overflow[term] -= 1
        self.docs = max(0, self.docs - 1)
        self.total_length = max(0, self.total_length - length)

    def document_frequency(self, term: str) -> int:
        """How many indexed pages contain ``term``."""
        entries = self._postings.get(term)
        return len(entries) if entries is not None else self._overflow.get(term, 0)

    def query_weight(self, terms: Sequence[str]) -> float:
        """The score of a page of average length holding each of the distinct query ``terms`` once: the sum of
        their idf (a term no page holds counts at the highest idf). A hit's score over this says how much of
        the query the page explains."""
        n = self.docs
        if not n:
            return 0.0
        ratios = [(n - df + 0.5) / (df + 0.5) for df in map(self.document_frequency, dict.fromkeys(terms))]
        total = 0.0
        for weight in np.log1p(np.array(ratios, dtype=np.float64)).tolist():  # one call; added in order, plainly
            total += weight
        return total

    def search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best ``(seq, score)`` pairs for distinct query ``terms``, best first, ties by seq."""
        if k <= 0 or not self.docs:
            return []
        postings = self._postings
        found = sorted((len(postings[term]), term) for term in set(terms) if term in postings)
        frequencies: list[int] = []
        lists: list[array[int]] = []
        total = 0
        for df, term in found:
            if total + df > self._budget:
                break  # the rarest terms carry the idf; a term this common would cost the most
            frequencies.append(df)
            lists.append(postings[term])
            total += df
        if not lists:
            return []
        n = self.docs
        packed = np.concatenate([np.frombuffer(entries, dtype=np.int64) for entries in lists])
        counts = np.array(frequencies, dtype=np.float64)
        idf = np.repeat(np.log1p((n - counts + 0.5) / (counts + 0.5)), frequencies)
        tf = (packed & _TF_MASK).astype(np.float64)  # integer masks: the same values as float % and //, far faster
        length_norm = (self.K1 * self.B / (self.total_length / n or 1.0)) * ((packed >> 8) & _LEN_MASK).astype(
            np.float64
        )
        gain = idf * tf * (self.K1 + 1.0) / (tf + self.K1 * (1.0 - self.B) + length_norm)
        seqs = packed >> _SEQ_SHIFT
        order = np.argsort(seqs, kind="stable")  # lists are (nearly) sorted by seq: runs merge cheaply
        seqs = seqs[order]
        starts = np.flatnonzero(np.concatenate(([True], seqs[1:] != seqs[:-1])))
        scores = np.round(np.add.reduceat(gain[order], starts), 9)  # ties exact, whatever the summation order
        unique = seqs[starts]
        if len(unique) > k:  # the k best; of pages tied at the k-th score, the earliest written
            kth = -np.partition(-scores, k - 1)[k - 1]
            above, tied = np.flatnonzero(scores > kth), np.flatnonzero(scores == kth)
            top = np.concatenate((above, tied[: k - len(above)]))  # ``tied`` is in seq order already
        else:
            top = np.arange(len(unique))
        top = top[np.lexsort((unique[top], -scores[top]))]
        return [(int(unique[i]), float(scores[i])) for i in top]

    def save(self, path: Path, meta: Mapping[str, Any]) -> None:
        """Write the index (and ``meta``, a JSON object) atomically with a checksum, streaming the postings."""

        def write(tmp: Path) -> None:
            terms = list(self._postings)
            overflow = list(self._overflow)
            header = {
                "meta": dict(meta),
                "docs": self.docs,
                "total_length": self.total_length,
                "budget": self._budget,
                "terms": len(terms),
                "overflow": len(overflow),
            }
            with open(tmp, "wb") as handle:
                head = json.dumps(header).encode("utf-8")
                handle.write(len(head).to_bytes(8, "little") + head)
                for words in (terms, overflow):  # terms never hold a line break
                    block = "\n".join(words).encode("utf-8")
                    handle.write(len(block).to_bytes(8, "little") + block)
                array("q", [len(self._postings[term]) for term in terms]).tofile(handle)
                array("q", [self._overflow[term] for term in overflow]).tofile(handle)
                for term in terms:
                    self._postings[term].tofile(handle)

        save_checked(path, write, _MAGIC)

    @classmethod
    def load(cls, path: Path) -> tuple[LexicalIndex, dict[str, Any]]:
        """Read a saved index and its ``meta``; raises :class:`StoreCorrupted` if the file is damaged."""
        size = verify_checked(path, _MAGIC, "BM25 index")
        try:
            data = memoryview(path.read_bytes())[:size]
            at = 8 + int.from_bytes(data[:8], "little")
            header = json.loads(bytes(data[8:at]))
            blocks = []
            for _ in range(2):
                length = int.from_bytes(data[at : at + 8], "little")
                text = bytes(data[at + 8 : at + 8 + length]).decode("utf-8")
                blocks.append(text.split("\n") if text else [])
                at += 8 + length
            terms, overflow = blocks
            if (len(terms), len(overflow)) != (header["terms"], header["overflow"]):
                raise ValueError("term counts do not match the header")
            counts = np.frombuffer(data[at : at + 8 * len(terms)], dtype=np.int64)
            at += 8 * len(terms)
            overflow_counts = np.frombuffer(data[at : at + 8 * len(overflow)], dtype=np.int64)
            at += 8 * len(overflow)
            index = cls(int(header["budget"]))
            for term, count in zip(terms, counts.tolist(), strict=True):
                entries = index._postings[term] = array("q")
                entries.frombytes(data[at : at + 8 * count])
                at += 8 * count
            if at != size:
                raise ValueError("postings do not fill the file")
            index._overflow = dict(zip(overflow, overflow_counts.tolist(), strict=True))
            index.docs, index.total_length = int(header["docs"]), int(header["total_length"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise StoreCorrupted(f"BM25 index {path} is unreadable: {exc}") from None
        return index, dict(header["meta"])
