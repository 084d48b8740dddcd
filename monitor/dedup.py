"""Exact and near-duplicate detection of article texts and passages (pure, no I/O).

A text's fingerprint holds an exact hash of its normalised words and a MinHash
signature over word shingles, banded for LSH lookups in the archive.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

SHINGLE = 5
PERMUTATIONS = 128
BANDS = 32
ROWS = PERMUTATIONS // BANDS
_PRIME = np.uint64((1 << 61) - 1)
_rng = np.random.default_rng(20210616)
_A = _rng.integers(1, int(_PRIME), PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, int(_PRIME), PERMUTATIONS, dtype=np.uint64)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TextPrint:
    text_hash: str
    signature: bytes
    shingles: int
    band_keys: tuple[int, ...]


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def text_hash(text: str) -> str:
    return hashlib.blake2b(" ".join(words(text)).encode(), digest_size=16).hexdigest()


def _shingle_hashes(tokens: list[str]) -> np.ndarray:
    grams = {" ".join(tokens[i : i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1))}
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") >> 3 for g in grams),
        dtype=np.uint64,
        count=len(grams),
    )


def fingerprint(text: str) -> TextPrint:
    tokens = words(text)
    hashes = _shingle_hashes(tokens)
    with np.errstate(over="ignore"):
        values = ((np.outer(hashes, _A) + _B) % _PRIME).min(axis=0).astype(np.uint32)
    bands = values.reshape(BANDS, ROWS)
    keys = tuple(
        int.from_bytes(hashlib.blake2b(bytes([n]) + band.tobytes(), digest_size=8).digest(), "little", signed=True)
        for n, band in enumerate(bands)
    )
    return TextPrint(text_hash(text), values.astype("<u4").tobytes(), len(hashes), keys)


def similarity(a: TextPrint, signature: bytes, shingles: int) -> float:
    """Estimated containment of the smaller text in the larger (wire copies get trimmed)."""
    mine = np.frombuffer(a.signature, dtype="<u4")
    theirs = np.frombuffer(signature, dtype="<u4")
    jaccard = float(np.mean(mine == theirs))
    union = (a.shingles + shingles) / (1 + jaccard) if jaccard else a.shingles + shingles
    return jaccard * union / max(1, min(a.shingles, shingles))


def same_story(a: TextPrint, signature: bytes, shingles: int) -> bool:
    return similarity(a, signature, shingles) >= 0.6


def passage_keys(passage: str) -> tuple[str, ...]:
    return (text_hash(passage),)


def same_passage(new: str, old: str) -> bool:
    return text_hash(new) == text_hash(old)
