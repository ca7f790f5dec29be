"""DRF permission classes over the permission matrix (``assays.permissions``, docs/permissions.md).

They answer "may this role do this at all"; which records it sees is the selectors' business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rest_framework.permissions import BasePermission

from assays.permissions import READ_LOTS, Capability, can_any
from assays.roles import is_staff_member

if TYPE_CHECKING:
    # Only for annotations: DRF imports this module (DEFAULT_PERMISSION_CLASSES) while its own views
    # module is still loading, so importing rest_framework.views here at run time would be circular.
    from rest_framework.request import Request
    from rest_framework.views import APIView

__all__ = ["CanReadLots", "CanRegisterSamples", "HasCapability", "IsStaffMember"]


class IsStaffMember(BasePermission):
    """The default for every API view: lab staff in a LIMS role (or a superuser). A view that opens to
    partner users says so explicitly, so a new endpoint starts closed."""

    message = "This needs a lab staff role."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return is_staff_member(user) or bool(user.is_authenticated and getattr(user, "is_superuser", False))


class HasCapability(BasePermission):
    """Allows a user holding any of ``capabilities``. Subclass it, or build one with ``any_of``."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return can_any(request.user, self.capabilities)

    @classmethod
    def any_of(cls, *capabilities: Capability) -> type[HasCapability]:
        if not capabilities:
            raise ValueError("a permission needs at least one capability; an empty one would refuse everyone")
        name = "HasCapability_" + "_or_".join(sorted(capabilities))
        return type(name, (cls,), {"capabilities": frozenset(capabilities)})


class CanReadLots(HasCapability):
    """Staff of any role and partner users; the selectors narrow the rows to their sites or partner."""

    capabilities = READ_LOTS


class CanRegisterSamples(HasCapability):
    """Technicians: registration produces lab data; the service then checks the sites row by row."""

    capabilities = frozenset({Capability.REGISTER_SAMPLES})
