"""Cursor pagination that takes its ordering from the view and answers a bad cursor with 400, not 404 or 500.

DRF's cursor carries a position that is compared with the ordering field in SQL. A hand-made cursor can
carry anything there (text where a timestamp belongs, a NUL byte PostgreSQL refuses, a naive time), so
the position is parsed by the field before it reaches the database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Model, QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView


class ViewOrderedCursorPagination(CursorPagination):
    """Ordering comes from the view's ``ordering``; its first field must be unchanging and (nearly) unique."""

    page_size_query_param = "page_size"
    page_size_query_description = "Results per page, 1 to 500 (default 100)."
    max_page_size = 500
    _model: type[Model] | None = None

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: APIView) -> tuple[str, ...]:
        ordering = getattr(view, "ordering", None)
        if not ordering:
            raise TypeError(f"{type(view).__name__} uses cursor pagination and must declare `ordering`")
        self._model = queryset.model
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param or "page_size")
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({"page_size": [f"a whole number from 1 to {self.max_page_size}"]})
        return min(size, self.max_page_size or size)

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._invalid() from None
        if cursor is not None and cursor.position is not None:
            self._check_position(str(cursor.position))
        return cursor

    def _check_position(self, position: str) -> None:
        if "\x00" in position or self._model is None:
            raise self._invalid()
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
            if not isinstance(field, Field):
                raise self._invalid()
            value = field.to_python(position)
        except (FieldDoesNotExist, DjangoValidationError):
            raise self._invalid() from None
        if isinstance(value, dt.datetime) and timezone.is_naive(value):
            raise self._invalid()

    def _invalid(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: ["invalid cursor: use the next or previous link as given"]})
