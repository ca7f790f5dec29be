"""Domain errors that the API and the web UI turn into clear messages (never a 500)."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; the message is meant for the user."""


class PermissionDeniedError(DomainError):
    """The actor's role or sites do not allow this."""


class NotFoundError(DomainError):
    """No such record, or not one the actor may see (the two are not distinguished)."""
