"""Reads of samples, scoped to the acting user through their lot."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from assays.errors import NotFoundError
from assays.models import Sample
from assays.roles import is_cross_site, is_staff_member
from assays.selectors.scoping import lot_visibility, visible_sites


def sample_list(*, actor: User | AnonymousUser) -> QuerySet[Sample]:
    if is_staff_member(actor) and not is_cross_site(actor):
        # A sample belongs to a site of its own (it may travel); staff see their sites' samples.
        scope = Sample.objects.filter(site__in=visible_sites(actor=actor))
    else:
        scope = Sample.objects.filter(lot_visibility(actor=actor, prefix="lot__"))
    return scope.distinct().select_related("lot", "site").order_by("code")


def sample_get(*, actor: User | AnonymousUser, code: str) -> Sample:
    sample = sample_list(actor=actor).filter(code=code.strip().upper()).first()
    if sample is None:
        raise NotFoundError(f"no sample {code!r}")
    return sample
