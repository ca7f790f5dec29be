"""Many lots' accepted results as columns: what ``SampleInput``s hold, without making them.

PURE: no Django, no database.

A reassessment after a specification change reads every accepted result of every lot of the
product (240,000 for 2,000 lots), fingerprints them and judges the lots. Made into a ``Result``
each, then a ``SampleInput`` per sample, then arrays again for the batch (``lot_batch``), they cost
more than the reading itself. The table keeps them as the arrays the batch and the fingerprint
use; ``samples`` makes the ``SampleInput``s of one lot, the very ones the lot's results give, for
the lots the batch leaves to ``assess_lot`` and for everything that looks at one lot.

The layout, which ``samples`` and ``fingerprints.table_fingerprints`` rely on:

* lots in the order given, each lot's samples contiguous and sorted by code (the order the
  assessment takes them), a sample only where it has a usable result;
* each sample's entries contiguous, one per analyte key (its latest result), in the order the
  sample's first result of that key came (the order of a ``SampleInput``'s mappings);
* a missing LOD or uncertainty is NaN, which no ``Result`` holds (they are finite).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assays.chemistry.assessment import SampleInput
from assays.chemistry.purity import Result


class Kind(enum.IntEnum):
    """Which mapping of a ``SampleInput`` an analyte key's results go to."""

    ELEMENT = 0
    ANION = 1
    LOI = 2


@dataclass(frozen=True, eq=False)
class ResultTable:
    lot_ids: list[int]
    notes: list[list[str]]  # per lot: results that could not be used, said in words
    # Samples of lot i: sample_start[i] .. sample_start[i + 1]; entries of sample s likewise.
    sample_start: np.ndarray
    sample_codes: list[str]
    entry_start: np.ndarray
    keys: list[str]  # analyte keys (an element's symbol, or a name: LOI, an anion)
    kinds: list[Kind]  # per key
    key: np.ndarray  # per entry: index into keys
    value: np.ndarray  # per entry, the unit of its context (mg/kg; LOI in %)
    censored: np.ndarray
    lod: np.ndarray  # NaN: none
    u: np.ndarray  # NaN: none

    def __post_init__(self) -> None:
        lots, samples, entries = len(self.lot_ids), len(self.sample_codes), len(self.key)
        assert len(self.notes) == lots
        assert len(self.sample_start) == lots + 1
        assert self.sample_start[-1] == samples
        assert len(self.entry_start) == samples + 1
        assert self.entry_start[-1] == entries
        assert all(len(column) == entries for column in (self.value, self.censored, self.lod, self.u))

    def with_notes(self, notes: list[list[str]]) -> ResultTable:
        """The same table with ``notes`` (per lot) instead of its own."""
        return dataclasses.replace(self, notes=notes)

    @property
    def index(self) -> dict[int, int]:
        """Lot id -> its position in the table."""
        return {lot_id: position for position, lot_id in enumerate(self.lot_ids)}

    def sample_count(self, position: int) -> int:
        return int(self.sample_start[position + 1] - self.sample_start[position])

    def samples(self, position: int) -> list[SampleInput]:
        """The lot's ``SampleInput``s, as its results make them."""
        first, last = int(self.sample_start[position]), int(self.sample_start[position + 1])
        start = int(self.entry_start[first])
        end = int(self.entry_start[last])
        keys, kinds = self.keys, self.kinds
        entry_keys = self.key[start:end].tolist()
        values, censored = self.value[start:end].tolist(), self.censored[start:end].tolist()
        lods, us = self.lod[start:end].tolist(), self.u[start:end].tolist()
        bounds = (self.entry_start[first : last + 1] - start).tolist()
        isnan = math.isnan
        made: list[SampleInput] = []
        for offset, code in enumerate(self.sample_codes[first:last]):
            elements: dict[str, Result] = {}
            anions: dict[str, Result] = {}
            loi: Result | None = None
            for entry in range(bounds[offset], bounds[offset + 1]):
                lod, u = lods[entry], us[entry]
                result = Result(values[entry], censored[entry], None if isnan(lod) else lod, None if isnan(u) else u)
                key = entry_keys[entry]
                kind = kinds[key]
                if kind is Kind.ELEMENT:
                    elements[keys[key]] = result
                elif kind is Kind.ANION:
                    anions[keys[key]] = result
                else:
                    loi = result
            made.append(SampleInput(code, elements, anions, loi))
        return made

    @classmethod
    def of_lots(cls, lots: Sequence[tuple[int, Sequence[SampleInput]]], *, notes: Sequence[list[str]] | None = None) -> ResultTable:
        """The table of lots given as ``SampleInput``s (id, samples in the order the assessment
        takes them): the inverse of ``samples``."""
        keys: list[str] = []
        kinds: list[Kind] = []
        position: dict[tuple[Kind, str], int] = {}
        sample_start, entry_start = [0], [0]
        codes: list[str] = []
        key: list[int] = []
        results: list[Result] = []
        for _, samples in lots:
            for sample in samples:
                codes.append(sample.code)
                loi = {"LOI": sample.loi_percent} if sample.loi_percent is not None else {}
                for kind, mapping in ((Kind.ELEMENT, sample.elements), (Kind.ANION, sample.anions), (Kind.LOI, loi)):
                    for name, result in mapping.items():
                        if (kind, name) not in position:
                            position[(kind, name)] = len(keys)
                            keys.append(name)
                            kinds.append(kind)
                        key.append(position[(kind, name)])
                        results.append(result)
                entry_start.append(len(key))
            sample_start.append(len(codes))
        return cls(
            lot_ids=[lot_id for lot_id, _ in lots],
            notes=list(notes) if notes is not None else [[] for _ in lots],
            sample_start=np.array(sample_start, dtype=np.intp),
            sample_codes=codes,
            entry_start=np.array(entry_start, dtype=np.intp),
            keys=keys,
            kinds=kinds,
            key=np.array(key, dtype=np.intp),
            value=np.array([result.value for result in results], dtype=float),
            censored=np.array([result.censored for result in results], dtype=bool),
            lod=np.array([math.nan if result.lod is None else result.lod for result in results], dtype=float),
            u=np.array([math.nan if result.u is None else result.u for result in results], dtype=float),
        )
