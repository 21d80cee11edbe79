"""For people: the verification page, the footprint page (碳核算) and the printable certificate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

import footprint
from api.problems import PROBLEM, PROBLEM_SCHEMA, ApiProblem
from api.routes.deps import connection, context
from api.templates import render
from certificates.context import ServiceContext
from certificates.copies import CertificateNotFoundError, document
from certificates.printable import certificate_view
from certificates.render.pdf import certificate_pdf

router = APIRouter(tags=["pages"])


@dataclass(frozen=True)
class VerifyPage:
    certificate_id: str = ""  # as the address gave it: the page's script looks it up


def verify_html(page: VerifyPage) -> str:
    return render("verify.html", verify=page)


# the page without an id; api/headers.py allows its inline script and style by their hashes
PAGE = verify_html(VerifyPage())


@dataclass(frozen=True)
class FootprintPage:
    activities: list[footprint.Activity]  # a line's choices: the reference-only grid 口径 left out
    methods: list[footprint.Method]


# static, like the verify page: the activities come from the shipped library, the data from the script
FOOTPRINT_PAGE = render(
    "footprint.html",
    page=FootprintPage(
        [a for a in footprint.shipped().activities.values() if a.kind != "reference"],
        list(footprint.METHODS.values()),
    ),
)


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/verify")


@router.get("/verify", response_class=HTMLResponse, summary="The verification page (Chinese and English)")
def verify_page() -> str:
    return PAGE


@router.get(
    "/verify/{certificate_id}", response_class=HTMLResponse, summary="The verification page, for one certificate"
)
def verify_page_for(certificate_id: str) -> str:
    return verify_html(VerifyPage(certificate_id))


@router.get(
    "/footprint",
    response_class=HTMLResponse,
    summary="碳核算: a footprint computed in the browser (Chinese and English)",
)
def footprint_page() -> str:
    return FOOTPRINT_PAGE


@router.get(
    "/certificates/{certificate_id}.pdf",
    summary="The printable certificate (Chinese and English, QR code)",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        404: {"description": "Not found", "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}},
    },
)
def certificate_pdf_page(
    certificate_id: str,
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
) -> Response:
    try:
        doc = document(conn, ctx.log, certificate_id)
    except CertificateNotFoundError as exc:
        raise ApiProblem(404, "Not found", str(exc)) from None
    pdf = certificate_pdf(certificate_view(doc, ctx.verify_url(certificate_id)))
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{certificate_id}.pdf"'}
    )
