"""Domain errors become clear 4xx answers with a ``detail``; nothing a service refuses turns into a 500."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.lifecycle import IllegalTransitionError

pytestmark = pytest.mark.django_db


def _raising(exc: Exception) -> type[APIView]:
    class Raising(APIView):
        def get(self, request):
            raise exc

    return Raising


def _call(view: type[APIView], user) -> Response:
    request = APIRequestFactory().get("/")
    force_authenticate(request, user=user)
    response = view.as_view()(request)
    response.render()
    return response


@pytest.mark.parametrize(
    ("exc", "status", "detail"),
    [
        (DomainError("lot L1 is not a product lot"), 400, "lot L1 is not a product lot"),
        (NotFoundError("no lot 'L9'"), 404, "no lot 'L9'"),
        (PermissionDeniedError("only QA signs"), 403, "only QA signs"),
        (IllegalTransitionError(current="rejected", requested="open"), 400, "a lot in state 'rejected' cannot become 'open'"),
        (ValidationError("mass must be positive"), 400, "mass must be positive"),
    ],
)
def test_domain_errors_map_to_http(technician, exc, status, detail):
    response = _call(_raising(exc), technician)
    assert response.status_code == status
    assert response.data["detail"].startswith(detail)


def test_a_field_validation_error_names_its_fields(technician):
    response = _call(_raising(ValidationError({"mass_kg": ["must be positive"], "code": ["taken"]})), technician)
    assert response.status_code == 400
    assert response.data["errors"] == {"mass_kg": ["must be positive"], "code": ["taken"]}
    assert "must be positive" in response.data["detail"]


def test_a_validation_error_rolls_back_an_atomic_request(technician):
    # Under ATOMIC_REQUESTS a 400 must not commit half a change: the handler marks the transaction for
    # rollback, as DRF does for its own errors.
    from django.db import connection, transaction

    with transaction.atomic():
        connection.settings_dict["ATOMIC_REQUESTS"] = True
        try:
            _call(_raising(ValidationError("refused")), technician)
            assert connection.needs_rollback
            connection.set_rollback(False)
        finally:
            connection.settings_dict["ATOMIC_REQUESTS"] = False


def test_other_errors_are_left_to_drf(technician):
    with pytest.raises(RuntimeError):
        _call(_raising(RuntimeError("a bug, not a refusal")), technician)


def test_a_serializers_field_errors_keep_their_keys_and_gain_a_detail(technician):
    from rest_framework import serializers

    class Reason(serializers.Serializer):
        reason = serializers.CharField()
        items = serializers.ListField(child=serializers.IntegerField())

    class Posting(APIView):
        def get(self, request):
            Reason(data={"items": ["x"]}).is_valid(raise_exception=True)

    response = _call(Posting, technician)
    assert response.status_code == 400
    assert response.data["reason"] == ["This field is required."]
    assert response.data["detail"] == "reason: This field is required.; items.0: A valid integer is required."


def test_a_url_no_pattern_takes_is_a_json_404_under_the_api_and_the_page_elsewhere(client):
    # <int:id> takes no "-1": the resolver's 404, which an API client must still be able to parse.
    response = client.get("/api/v1/certificates/-1/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
