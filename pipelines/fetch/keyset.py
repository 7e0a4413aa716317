"""The crawl's discovered set in 12 bytes a slot: `KeySet`.

A crawl remembers every dedupe key it has seen, skipped ones included (so
each URL gets exactly one outcome line): on a shop of 100,000 products that is
about 510,000 keys, five for every page fetched. In a Python `set[str]` a key
of ~60 characters costs ~140 bytes (the string object and its slot), so the
set alone grew the worker by ~70 MB between 10,000 and 100,000 products.

`KeySet` keeps instead a 96-bit BLAKE2b digest of each key, in two arrays
(64 and 32 bits) used as one open-addressing hash table (linear probing, at
most half full, doubled when it gets there): 12 bytes a slot, about 24 bytes
a key on average. Two different keys share a digest with probability about
n^2 / 2^97, 6e-16 for ten million keys (Scrapy's request fingerprints make
the same bet with SHA-1), so for any crawl it is an exact set. Cost: about a microsecond an operation, in Python; the page processes
(pipelines/fetch/pagework.py) send only links they have not sent before, so
the coordinator does a few of these per page, not one per link.

Digests are salted per process: nothing is kept across runs, and a site
cannot choose URLs that collide in the table's slots.
"""

from __future__ import annotations

import os
from array import array
from hashlib import blake2b
from typing import Generic, TypeVar

_M32 = (1 << 32) - 1
_MISS = object()
K = TypeVar("K")
V = TypeVar("V")
_MIN_CAPACITY = 1 << 12


class KeySet:
    """A set of strings that stores only their 96-bit digests; `add` and `in`, nothing else."""

    __slots__ = ("_hi", "_lo", "_mask", "_len", "_salt")

    def __init__(self) -> None:
        self._salt = os.urandom(16)
        self._len = 0
        self._alloc(_MIN_CAPACITY)

    def _alloc(self, capacity: int) -> None:
        self._hi = array("Q", bytes(8 * capacity))  # 0 = an empty slot; a digest's hi is never 0
        self._lo = array("I", bytes(4 * capacity))
        self._mask = capacity - 1

    def _digest(self, key: str) -> tuple[int, int]:
        value = int.from_bytes(
            blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12, salt=self._salt).digest(), "little")
        return (value >> 32) or 1, value & _M32

    def _slot(self, hi: int, lo: int) -> tuple[int, bool]:
        """(the slot holding the digest, True) or (the empty slot where it would go, False)."""
        table_hi, table_lo, mask = self._hi, self._lo, self._mask
        i = hi & mask
        while True:
            found = table_hi[i]
            if found == 0:
                return i, False
            if found == hi and table_lo[i] == lo:
                return i, True
            i = (i + 1) & mask

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self._slot(*self._digest(key))[1]

    def add(self, key: str) -> bool:
        """Add `key`; True when it was not in the set."""
        hi, lo = self._digest(key)
        i, present = self._slot(hi, lo)
        if present:
            return False
        self._hi[i] = hi
        self._lo[i] = lo
        self._len += 1
        if 2 * self._len > self._mask + 1:
            self._grow()
        return True

    def _grow(self) -> None:
        old_hi, old_lo = self._hi, self._lo
        self._alloc(2 * len(old_hi))
        table_hi, table_lo, mask = self._hi, self._lo, self._mask
        for hi, lo in zip(old_hi, old_lo, strict=True):
            if hi:
                i = hi & mask
                while table_hi[i]:
                    i = (i + 1) & mask
                table_hi[i] = hi
                table_lo[i] = lo

    def __len__(self) -> int:
        return self._len

    @property
    def nbytes(self) -> int:
        """Bytes the table takes (both arrays)."""
        return 12 * len(self._hi)


class Recent(Generic[K, V]):
    """A map that remembers what was put or found lately, in two bounded generations.

    Puts go to the newer generation; when it holds `size` entries it becomes
    the older one and the oldest is dropped. A `get` that finds an entry in
    the older generation moves it to the newer one, so what a site repeats
    on every page (its menus, facets, footer links) stays while the long
    tail is forgotten, and memory stays flat however long the crawl. Used
    where forgetting only costs work done again: the crawl's URL -> key
    shortcut in front of the KeySet, the page process's resolved hrefs
    (pipelines.fetch.links.links_of) and its sent-links filter
    (pipelines.fetch.pagework.Unsent).
    """

    __slots__ = ("_new", "_old", "size")

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._new: dict[K, V] = {}
        self._old: dict[K, V] = {}

    def get(self, key: K, default: V | None = None) -> V | None:
        value = self._new.get(key, _MISS)
        if value is _MISS:
            value = self._old.get(key, _MISS)
            if value is _MISS:
                return default
            self.put(key, value)
        return value  # type: ignore[return-value]

    def put(self, key: K, value: V) -> None:
        if len(self._new) >= self.size:
            self._old, self._new = self._new, {}
        self._new[key] = value

    def __len__(self) -> int:
        return len(self._new) + len(self._old)
