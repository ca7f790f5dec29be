"""Sites and memberships."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from assays.models import Site


@transaction.atomic
def site_ensure_default() -> Site:
    """The installation's default site, created from the settings on first use.

    A single-lab user never has to think about sites: everything lands here unless said otherwise.
    """
    site = Site.objects.filter(is_default=True).first()
    if site is not None:
        return site
    site, _ = Site.objects.get_or_create(
        code=settings.LIMS_DEFAULT_SITE_CODE,
        defaults={"name": settings.LIMS_DEFAULT_SITE_NAME, "country": settings.LIMS_DEFAULT_SITE_COUNTRY},
    )
    site.is_default = True
    site.save(update_fields=["is_default"])
    return site
