"""docs/permissions.md and assays/permissions.py are one matrix; ``can()`` and the DRF permissions answer from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from assays.api.permissions import CanReadLots, HasCapability, IsStaffMember
from assays.permissions import PUBLIC_CAPABILITIES, READ_LOTS, ROLE_CAPABILITIES, Capability, can, capabilities_of
from assays.roles import Role
from tests.factories import UserFactory

DOC = Path(settings.BASE_DIR) / "docs" / "permissions.md"
ANONYMOUS = "Anonymous"
YES, NO = "✓", "—"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_matrix(text: str) -> dict[str, set[Capability]]:
    """The doc's table as {column name: capabilities marked ✓}; fails loudly on anything unexpected."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header_index = next(i for i, line in enumerate(lines) if "Id" in _cells(line) and Role.TECHNICIAN.value in _cells(line))
    header = _cells(lines[header_index])
    columns = [*(role.value for role in Role), ANONYMOUS]
    assert all(header.count(column) == 1 for column in columns), header
    granted: dict[str, set[Capability]] = {column: set() for column in columns}
    seen: list[Capability] = []
    for line in lines[header_index + 2 :]:
        cells = _cells(line)
        assert len(cells) == len(header), line
        match = re.fullmatch(r"`([a-z_]+)`", cells[header.index("Id")])
        assert match, f"the Id cell should be one code span: {line}"
        capability = Capability(match.group(1))
        seen.append(capability)
        for column in columns:
            mark = cells[header.index(column)]
            assert mark in {YES, NO}, f"{capability} / {column}: {mark!r}"
            if mark == YES:
                granted[column].add(capability)
    assert sorted(seen) == sorted(Capability), "every capability exactly once"
    return granted


def test_the_documented_matrix_is_the_coded_matrix():
    granted = parse_matrix(DOC.read_text(encoding="utf-8"))
    for role in Role:
        assert granted[role.value] == set(ROLE_CAPABILITIES[role]), role
    assert granted[ANONYMOUS] == set(PUBLIC_CAPABILITIES)


def test_the_parser_notices_a_changed_mark():
    text = DOC.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if "`revoke_certificates`" in line)
    tampered = text.replace(row, row.replace(f"| {NO} | {NO} | {YES} |", f"| {NO} | {YES} | {YES} |", 1))
    assert tampered != text
    assert Capability.REVOKE_CERTIFICATES in parse_matrix(tampered)[Role.QA.value]


def test_every_role_has_a_row_in_the_code():
    assert set(ROLE_CAPABILITIES) == set(Role)
    for capabilities in ROLE_CAPABILITIES.values():
        assert capabilities >= PUBLIC_CAPABILITIES


def test_who_signs_is_never_who_produced_the_data():
    for role, capabilities in ROLE_CAPABILITIES.items():
        producing = capabilities & {Capability.REGISTER_SAMPLES, Capability.IMPORT_RUNS}
        approving = capabilities & {Capability.SIGN_CERTIFICATES, Capability.REVIEW_RUN_QC}
        assert not (producing and approving), role


@pytest.mark.django_db
def test_can_answers_per_persona(technician, qa, qa_manager, lab_admin, partner_a_user, anonymous):
    assert can(technician, Capability.REGISTER_SAMPLES)
    assert not can(technician, Capability.SIGN_CERTIFICATES)
    assert can(qa, Capability.SIGN_CERTIFICATES)
    assert not can(qa, Capability.REVOKE_CERTIFICATES)
    assert can(qa_manager, Capability.REVOKE_CERTIFICATES)
    assert can(lab_admin, Capability.MANAGE_USERS)
    assert not can(lab_admin, Capability.SIGN_CERTIFICATES)
    assert can(partner_a_user, Capability.PARTNER_VIEW_OWN_LOTS)
    assert not can(partner_a_user, Capability.VIEW_OWN_SITE_LOTS)
    assert capabilities_of(anonymous) == PUBLIC_CAPABILITIES
    assert can(anonymous, Capability.VERIFY_CERTIFICATE)


@pytest.mark.django_db
def test_roles_combine_and_a_superuser_is_a_lab_admin(world):
    both = UserFactory(username="both", roles=[Role.TECHNICIAN, Role.QA])
    assert capabilities_of(both) == ROLE_CAPABILITIES[Role.TECHNICIAN] | ROLE_CAPABILITIES[Role.QA]
    root = UserFactory(username="root", is_superuser=True)
    assert capabilities_of(root) == ROLE_CAPABILITIES[Role.LAB_ADMIN]
    assert capabilities_of(UserFactory(username="plain")) == PUBLIC_CAPABILITIES


# --- DRF permission classes -------------------------------------------------------------------


class _DefaultView(APIView):
    """Declares no permission: gets the project default from settings."""

    def get(self, request):
        return Response({"ok": True})


class _SignView(APIView):
    permission_classes = [HasCapability.any_of(Capability.SIGN_CERTIFICATES)]

    def get(self, request):
        return Response({"ok": True})


def _status(view, user) -> int:
    request = APIRequestFactory().get("/")
    if user.is_authenticated:
        force_authenticate(request, user=user)
    return int(view.as_view()(request).status_code)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "default", "sign"),
    [
        ("technician", 200, 403),
        ("qa", 200, 200),
        ("qa_manager", 200, 200),
        ("lab_admin", 200, 403),
        ("partner_a_user", 403, 403),
        ("anonymous", 403, 403),
    ],
)
def test_permission_classes(request, persona, default, sign):
    user = request.getfixturevalue(persona)
    assert _status(_DefaultView, user) == default
    assert _status(_SignView, user) == sign


def test_the_default_permission_is_staff_only():
    assert settings.REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"] == ["assays.api.permissions.IsStaffMember"]
    assert [type(permission) for permission in _DefaultView().get_permissions()] == [IsStaffMember]


def test_read_lots_is_open_to_staff_and_partners_only():
    assert CanReadLots.capabilities == READ_LOTS
    holders = {role for role, capabilities in ROLE_CAPABILITIES.items() if capabilities & READ_LOTS}
    assert holders == set(Role)
    assert not (PUBLIC_CAPABILITIES & READ_LOTS)


def test_a_permission_needs_a_capability():
    with pytest.raises(ValueError, match="at least one capability"):
        HasCapability.any_of()
