"""What a lot assessment depends on, as one SHA-256: the specification version and every input
result as used. An unchanged fingerprint means no new assessment (a redelivered task, the
stale-lot sweep, a second click), so a fingerprint must change with any input and never with
anything else, and must stay the same from one release to the next: a lot whose stored
fingerprint no longer matches its unchanged inputs would be assessed again for nothing, and QA
would see flags raised again for lots they had already dealt with.

PURE: no Django, no database.

Two versions, told apart by their hex digits' case:

* version 2 (upper case, what is written now): SHA-256 of a binary encoding, every number as its
  IEEE 754 double. A reassessment after a specification change fingerprints every lot of the
  product, and encoding each of their results as text cost a tenth of the reassessment;
* version 1 (lower case, written before): SHA-256 of JSON text. Still computed, but only for a lot
  whose newest assessment carries one, to know whether its inputs changed since.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from assays.chemistry.assessment import SampleInput
from assays.chemistry.purity import Result
from assays.chemistry.result_table import Kind, ResultTable

_VERSION_2 = b"LIMS lot assessment inputs v2\n"
# value, censored, LOD, u: an absent LOD or u is NaN, which no Result holds (they are finite).
_RESULT = struct.Struct("<d?dd")
_LENGTH = struct.Struct("<I")
_NONE = math.nan
# Tags that start each part, so that no two different inputs encode alike.
_SAMPLE, _ELEMENT, _ANION, _LOI = b"S", b"E", b"A", b"L"


def inputs_fingerprint(*, spec_id: int, samples: Sequence[SampleInput]) -> str:
    """Version 2: upper-case hex. ``samples`` in the order the assessment takes them (by code);
    each sample's results are taken in key order, whatever order they came in."""
    parts = [_VERSION_2, _text(str(spec_id))]
    append, pack, tagged, none = parts.append, _RESULT.pack, _tagged, _NONE
    for sample in samples:
        append(_SAMPLE)
        append(_text(sample.code))
        for tag, results in ((_ELEMENT, sample.elements), (_ANION, sample.anions)):
            for key in sorted(results):
                result = results[key]
                lod, u = result.lod, result.u
                append(tagged(tag, key))
                append(pack(result.value, result.censored, none if lod is None else lod, none if u is None else u))
        loi = sample.loi_percent
        if loi is not None:
            append(_LOI)
            append(pack(loi.value, loi.censored, none if loi.lod is None else loi.lod, none if loi.u is None else loi.u))
    return hashlib.sha256(b"".join(parts)).hexdigest().upper()


def table_fingerprints(table: ResultTable, *, spec_ids: Sequence[int]) -> list[str]:
    """``inputs_fingerprint`` of every lot of ``table`` (``spec_ids``: each lot's specification
    version, in the table's order), digest for digest, without making its ``SampleInput``s: the
    encoding of all lots is assembled in one buffer by numpy and each lot's part hashed."""
    assert len(spec_ids) == len(table.lot_ids)
    entries, samples = len(table.key), len(table.sample_codes)
    # Within a sample: elements, then anions, each in key order, then LOI (as inputs_fingerprint).
    ranked = sorted(range(len(table.keys)), key=lambda key: (table.kinds[key], table.keys[key]))
    rank = np.empty(len(table.keys), dtype=np.intp)
    rank[ranked] = np.arange(len(ranked))
    sample_of_entry = np.repeat(np.arange(samples), np.diff(table.entry_start))
    order = np.lexsort((rank[table.key], sample_of_entry))  # stays within each sample's range
    keys = table.key[order]
    records = np.empty(entries, dtype=_RECORD)
    records["value"] = table.value[order]
    records["censored"] = table.censored[order]
    # Every absent LOD or u as the one NaN inputs_fingerprint packs, whatever NaN the column holds.
    records["lod"] = np.where(np.isnan(table.lod[order]), _NONE, table.lod[order])
    records["u"] = np.where(np.isnan(table.u[order]), _NONE, table.u[order])
    prefixes = [_LOI if kind is Kind.LOI else _tagged(_TAG[kind], name) for name, kind in zip(table.keys, table.kinds, strict=True)]
    prefix_length = np.array([len(prefix) for prefix in prefixes], dtype=np.intp)
    headers = [_SAMPLE + _text(code) for code in table.sample_codes]
    header_length = np.array([len(header) for header in headers], dtype=np.intp)
    entry_length = prefix_length[keys] + _RESULT.size
    entry_end = np.cumsum(entry_length)
    entry_begin = entry_end - entry_length
    # Bytes of each sample's entries, then where each sample and each entry starts in the buffer.
    within = np.concatenate(([0], entry_end))[table.entry_start]
    sample_bytes = header_length + np.diff(within)
    sample_offset = np.concatenate(([0], np.cumsum(sample_bytes)))
    entry_offset = np.repeat(sample_offset[:-1] + header_length - within[:-1], np.diff(table.entry_start)) + entry_begin
    buffer = np.zeros(int(sample_offset[-1]), dtype=np.uint8)
    # Pieces of one length are placed together: the sample headers by length, the prefixes by key.
    header_offset = sample_offset[:-1]
    for length in np.unique(header_length).tolist():
        chosen = np.flatnonzero(header_length == length)
        _place(buffer, header_offset[chosen], b"".join(headers[index] for index in chosen.tolist()), length)
    for key in np.unique(keys).tolist():
        chosen = np.flatnonzero(keys == key)
        _place(buffer, entry_offset[chosen], prefixes[key] * len(chosen), len(prefixes[key]))
    _place(buffer, entry_offset + prefix_length[keys], records.tobytes(), _RESULT.size)
    encoded = memoryview(buffer.tobytes())
    bounds = sample_offset[table.sample_start].tolist()
    digests = []
    for position, spec_id in enumerate(spec_ids):
        digest = hashlib.sha256(_VERSION_2 + _text(str(spec_id)))
        digest.update(encoded[bounds[position] : bounds[position + 1]])
        digests.append(digest.hexdigest().upper())
    return digests


# inputs_fingerprint's _RESULT as a record: packed, little-endian, 25 bytes.
_RECORD = np.dtype([("value", "<f8"), ("censored", "?"), ("lod", "<f8"), ("u", "<f8")])
assert _RECORD.itemsize == _RESULT.size
_TAG = {Kind.ELEMENT: _ELEMENT, Kind.ANION: _ANION}


def _place(buffer: np.ndarray, offsets: np.ndarray, pieces: bytes, length: int) -> None:
    """Copy ``pieces`` (consecutive, ``length`` bytes each) to ``buffer`` at ``offsets``."""
    if len(offsets):
        buffer[offsets[:, np.newaxis] + np.arange(length)] = np.frombuffer(pieces, dtype=np.uint8).reshape(len(offsets), length)


def _text(value: str) -> bytes:
    encoded = value.encode()
    return _LENGTH.pack(len(encoded)) + encoded


# A result's tag and key, encoded once per analyte rather than once per result (a reassessment
# fingerprints every result of every lot of the product: a quarter of the time went here).
@functools.lru_cache(maxsize=4096)
def _tagged(tag: bytes, key: str) -> bytes:
    return tag + _text(key)


def may_be_version_1(fingerprint: str) -> bool:
    """Whether a stored fingerprint may be version 1 (no upper-case hex digit; one without any
    letter could be either, and is checked as both)."""
    return not any(character in "ABCDEF" for character in fingerprint)


def inputs_fingerprint_version_1(*, spec_id: int, samples: Sequence[SampleInput]) -> str:
    """Version 1, byte for byte as it was written: lower-case hex of the JSON text's SHA-256."""
    payload: dict[str, Any] = {
        "spec": spec_id,
        "samples": [
            {
                "code": sample.code,
                "elements": _results_version_1(sample.elements),
                "anions": _results_version_1(sample.anions),
                "loi": None if sample.loi_percent is None else _loi_version_1(sample.loi_percent),
            }
            for sample in samples
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _results_version_1(results: Mapping[str, Result]) -> dict[str, list[Any]]:
    return {key: [result.value, result.censored, result.lod, result.u] for key, result in sorted(results.items())}


def _loi_version_1(loi: Result) -> list[Any]:
    # Version 1 left LOI's u out when unknown, so that fingerprints made before LOI had one kept.
    return [loi.value, loi.censored] if loi.u is None else [loi.value, loi.censored, loi.u]
