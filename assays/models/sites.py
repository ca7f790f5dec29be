"""Sites (plants and labs of the company), membership of users, and partners."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Site(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    address = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="site_one_default"),
            models.CheckConstraint(condition=Q(country__length=2), name="site_country_iso2"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class SiteMembership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_memberships")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "site"], name="site_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.site.code}"


class PartnerKind(models.TextChoices):
    SUPPLIER = "supplier", "Supplier"
    CUSTOMER = "customer", "Customer"
    BOTH = "both", "Supplier and customer"


class Partner(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=PartnerKind.choices)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=PartnerKind.values), name="partner_kind_valid"),
            models.CheckConstraint(condition=Q(country__length=2), name="partner_country_iso2"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_supplier(self) -> bool:
        return self.kind in {PartnerKind.SUPPLIER, PartnerKind.BOTH}

    @property
    def is_customer(self) -> bool:
        return self.kind in {PartnerKind.CUSTOMER, PartnerKind.BOTH}


class PartnerMembership(models.Model):
    """A partner user acts for exactly one partner and sees only that partner's lots."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_membership")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="members")

    def __str__(self) -> str:
        return f"{self.user} for {self.partner.code}"
