"""The public verification page (no login): what a certificate's QR code opens.

It says whether the certificate is valid, superseded or revoked, and what it certifies (number,
revision, lot, product, issue date, SHA-256 of the issued PDF); a visitor may upload the PDF they
were handed to check it is byte for byte the one issued. Unknown and malformed tokens are the
same plain 404, so the page tells nothing to someone guessing.
"""

from __future__ import annotations

import hashlib

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from assays.selectors.certificates import certificate_for_verification

# A certificate is a few hundred kB; anything far bigger is not one of ours.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@require_http_methods(["GET", "POST"])
def verify_certificate(request: HttpRequest, token: str) -> HttpResponse:
    view = certificate_for_verification(token=token)
    if view is None:
        raise Http404("no such certificate")
    check: dict[str, object] | None = None
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("pdf")
        if upload is None:
            check = {"ok": False, "message": "Choose the PDF file to check."}
            status = 400
        elif upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            check = {"ok": False, "message": f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB: it is not this certificate."}
            status = 400
        else:
            digest = hashlib.sha256()
            for chunk in upload.chunks():
                digest.update(chunk)
            uploaded = digest.hexdigest()
            matches = bool(view.certificate.pdf_sha256) and uploaded == view.certificate.pdf_sha256
            check = {
                "ok": matches,
                "sha256": uploaded,
                "filename": upload.name,
                "message": (
                    "The file matches the issued certificate byte for byte."
                    if matches
                    else "The file does NOT match the issued certificate: it differs from the document the laboratory issued."
                ),
            }
    return render(request, "web/certificates/verify.html", {"view": view, "check": check}, status=status)
