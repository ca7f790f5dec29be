"""Reads of lots, scoped to the acting user."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from assays.errors import NotFoundError
from assays.models import Lot
from assays.selectors.scoping import lot_visibility


def lot_list(*, actor: User | AnonymousUser) -> QuerySet[Lot]:
    return (
        Lot.objects.filter(lot_visibility(actor=actor))
        .distinct()
        .select_related("site", "product", "supplier")
        .order_by("-created_at", "code")
    )


def lot_get(*, actor: User | AnonymousUser, code: str) -> Lot:
    """One visible lot; an invisible one is reported exactly like a missing one."""
    # A NUL byte cannot be in any code, and PostgreSQL refuses it in a query parameter.
    lot = None if "\x00" in code else lot_list(actor=actor).filter(code=code).first()
    if lot is None:
        raise NotFoundError(f"no lot {code!r}")
    return lot
