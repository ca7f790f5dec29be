"""The lot list with its filters, scoped to the acting user."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from assays.models import Lot, LotKind, LotStatus
from assays.selectors.lots import lot_list


def lot_search(
    *,
    actor: User | AnonymousUser,
    status: LotStatus | str = "",
    kind: LotKind | str = "",
    code_contains: str = "",
) -> QuerySet[Lot]:
    """Visible lots, newest first, narrowed by whichever filters are given (empty means any)."""
    lots = lot_list(actor=actor)
    if status:
        lots = lots.filter(status=status)
    if kind:
        lots = lots.filter(kind=kind)
    if code_contains.strip():
        lots = lots.filter(code__icontains=code_contains.strip())
    return lots
