"""Re-authentication at the moment of signing (21 CFR 11.200): the password again and, when the
lab asks for it (``LabProfile.require_totp``), a TOTP code from the signer's authenticator."""

from __future__ import annotations

import time

import pyotp
from django.contrib.auth.models import User
from django.db import transaction

from assays.errors import PermissionDeniedError
from assays.models import AuditAction, LabProfile, TotpDevice
from assays.services.audit import audit_record


class ReauthenticationError(PermissionDeniedError):
    """The signer could not prove again who they are; nothing was signed."""


def totp_required() -> bool:
    return LabProfile.objects.filter(require_totp=True).exists()


@transaction.atomic
def signer_reauthenticate(*, user: User, password: str, totp_code: str = "") -> None:
    """Raise unless ``password`` (and, where required, ``totp_code``) prove ``user`` again.

    A TOTP code is good once: the time step it was accepted for is remembered, so a code seen over
    someone's shoulder cannot sign a second time.
    """
    if not password or not user.check_password(password):
        raise ReauthenticationError("the password is not right: signing needs your password again")
    if not totp_required():
        return
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is None:
        raise ReauthenticationError("the lab asks for a second factor when signing, and you have no authenticator set up")
    totp = pyotp.TOTP(device.secret)
    code = totp_code.strip().replace(" ", "")
    now = time.time()
    # One step either side allows for clock drift between the phone and the server.
    current = int(now // totp.interval)
    for step in (current, current - 1, current + 1):
        if step > device.last_used_step and code and pyotp.utils.strings_equal(totp.generate_otp(step), code):
            device.last_used_step = step
            device.save(update_fields=["last_used_step"])
            return
    raise ReauthenticationError("the authenticator code is not right (or was already used)")


def totp_new_secret() -> str:
    return pyotp.random_base32()


def totp_provisioning_uri(*, user: User, secret: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=issuer)


@transaction.atomic
def totp_enrol(*, user: User, password: str, secret: str, code: str) -> TotpDevice:
    """Bind an authenticator to ``user``: the password proves who asks, a first code proves the app
    holds ``secret``. Replaces a lost one; audited (the secret itself never enters the trail)."""
    if not password or not user.check_password(password):
        raise ReauthenticationError("the password is not right")
    totp = pyotp.TOTP(secret)
    if not code.strip() or not totp.verify(code.strip().replace(" ", ""), valid_window=1):
        raise ReauthenticationError("the authenticator code is not right: scan the code again and enter the six digits it shows")
    replaced = TotpDevice.objects.filter(user=user).exists()
    device, _ = TotpDevice.objects.update_or_create(user=user, defaults={"secret": secret, "last_used_step": 0})
    audit_record(
        actor=user,
        action=AuditAction.UPDATE if replaced else AuditAction.CREATE,
        instance=device,
        reason="authenticator replaced" if replaced else "authenticator enrolled",
        after={"user": user.get_username()},
    )
    return device
