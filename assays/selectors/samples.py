"""Reads of samples, scoped to the acting user."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from assays.errors import NotFoundError
from assays.models import Sample
from assays.roles import is_cross_site, is_staff_member
from assays.selectors.scoping import visible_sites


def sample_list(*, actor: User | AnonymousUser) -> QuerySet[Sample]:
    """Staff see the samples held at their sites and the samples of their sites' lots (a sample
    may travel to another site's lab); cross-site roles see all. Samples are internal lab records:
    partner users see none here; what partners receive (results, certificates) has its own selectors."""
    if not (is_staff_member(actor) or getattr(actor, "is_superuser", False)):
        return Sample.objects.none()
    scope = Sample.objects.all()
    if not is_cross_site(actor):
        sites = visible_sites(actor=actor)
        scope = scope.filter(Q(site__in=sites) | Q(lot__site__in=sites))
    return scope.select_related("lot", "site").order_by("code")


def sample_get(*, actor: User | AnonymousUser, code: str) -> Sample:
    """One visible sample; an invisible one is reported exactly like a missing one."""
    # A NUL byte cannot be in any code, and PostgreSQL refuses it in a query parameter.
    sample = None if "\x00" in code else sample_list(actor=actor).filter(code=code.strip().upper()).first()
    if sample is None:
        raise NotFoundError(f"no sample {code!r}")
    return sample
