"""The filters the public lists accept: each parses the text of a query parameter into the value
the mirror stores, or raises PublicQueryError naming the accepted form."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any

from chain.types import (
    CancellationReason,
    Ecosystem,
    MethodologyStatus,
    ParticipantKind,
    ParticipantStatus,
    ProjectStatus,
    Scenario,
    enum_name,
)
from public.errors import PublicQueryError

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
MAX_INT = 2**62  # BIGINT holds it on both databases; a larger number is a typo


def _enum(enum: type[IntEnum]) -> Callable[[str, str], str]:
    names = [enum_name(enum, m.value) for m in enum]

    def parse(name: str, text: str) -> str:
        value = text.strip().lower().replace("-", "_")
        if value not in names:
            raise PublicQueryError(f"{name} {text[:40]!r} is not one of: {', '.join(names)}")
        return value

    return parse


def _integer(low: int = 0, high: int = MAX_INT) -> Callable[[str, str], int]:
    def parse(name: str, text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise PublicQueryError(f"{name} is a whole number, not {text[:40]!r}") from None
        if not low <= value <= high:
            raise PublicQueryError(f"{name} {value} is outside {low}..{high}")
        return value

    return parse


def _address(name: str, text: str) -> str:
    if not _ADDRESS.match(text.strip()):
        raise PublicQueryError(f"{name} is an account address, 0x and 40 hex digits, not {text[:60]!r}")
    return text.strip().lower()


def _text(name: str, text: str) -> str:
    # ids on chain are ASCII (chain/client.py); a Chinese input method types the full-width
    # Ｐ－５１１８０２ or a Unicode dash, which NFKC and one hyphen make the id (county already
    # took full-width digits: int() reads them)
    value = _DASHES.sub("-", unicodedata.normalize("NFKC", text)).strip()
    if not value or len(value) > 64 or not value.isprintable():
        raise PublicQueryError(f"{name} is 1-64 printable characters")
    return value


_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63]")  # hyphens, dashes, minus signs NFKC leaves


def methodology_spelling(text: str) -> str:
    """One methodology, one spelling: ids are compared upper-case with spaces and underscores as
    hyphens, so "scfm 001 v01" and "SCFM_001_V01" both find SCFM-001-V01 (research note §7: one
    CDM method was spelt 22 ways in aggregated registry data)."""
    return re.sub(r"[\s_]+", "-", text.strip()).upper()


def _methodology(name: str, text: str) -> str:
    return methodology_spelling(_text(name, text))


def _supply(name: str, text: str) -> str:
    value = text.strip().lower()
    if value not in ("circulating", "exhausted"):
        raise PublicQueryError(f"{name} is circulating (credits left to retire) or exhausted (none left)")
    return value


def _export_status(name: str, text: str) -> str:
    value = text.strip().lower()
    if value not in ("pending", "confirmed", "aborted"):
        raise PublicQueryError(f"{name} is pending, confirmed or aborted")
    return value


def _sanction(name: str, text: str) -> str:
    value = _enum(ParticipantStatus)(name, text)
    if value not in SANCTIONS:
        raise PublicQueryError(f"{name} on the sanctions list is one of: {', '.join(SANCTIONS)}")
    return value


SANCTIONS = ("restricted", "suspended", "revoked")

# name -> (parser, what it filters, for the API's parameter descriptions and the pages' forms)
PARSERS: dict[str, tuple[Callable[[str, str], Any], str]] = {
    "county": (_integer(100000, 999999), "county code (GB/T 2260, 6 digits), e.g. 511802"),
    "ecosystem": (_enum(Ecosystem), "forest, grassland or wetland"),
    "methodology": (_methodology, "methodology id, any case, e.g. SCFM-001-V01"),
    "project_status": (_enum(ProjectStatus), "submitted, registered, rejected, suspended, revoked, closed"),
    "methodology_status": (_enum(MethodologyStatus), "filed, superseded or withdrawn"),
    "owner": (_address, "owner account address"),
    "project": (_text, "project id, e.g. P-511802-0001"),
    "vintage": (_integer(1900, 9999), "vintage year"),
    "supply": (_supply, "circulating or exhausted"),
    "batch": (_integer(), "batch id"),
    "scenario": (_enum(Scenario), "retirement scenario, e.g. large_event, personal"),
    "reason": (_enum(CancellationReason), "cancellation reason, e.g. invalidation, exported"),
    "from_block": (_integer(), "first block of the period"),
    "to_block": (_integer(), "last block of the period"),
    "export_status": (_export_status, "pending, confirmed or aborted"),
    "kind": (_enum(ParticipantKind), "participant kind, e.g. enterprise, individual"),
    "participant_status": (_enum(ParticipantStatus), "active, restricted, suspended or revoked"),
    "sanction": (_sanction, "restricted, suspended or revoked"),
    "address": (_address, "account address"),
}


def parse(allowed: Mapping[str, str], given: Mapping[str, str | None]) -> dict[str, Any]:
    """The parsed values of the filters given (blank ones left out), by their names in `allowed`
    (parameter name -> parser name); an unknown filter is an error."""
    unknown = sorted(k for k, v in given.items() if v not in (None, "") and k not in allowed)
    if unknown:
        accepted = ", ".join(allowed) or "nothing"
        raise PublicQueryError(f"unknown filter {unknown[0]!r}; this list filters by {accepted}")
    out: dict[str, Any] = {}
    for name, parser in allowed.items():
        text = given.get(name)
        if text is None or text == "":
            continue
        out[name] = PARSERS[parser][0](name, text)
    if "from_block" in out and "to_block" in out and out["from_block"] > out["to_block"]:
        raise PublicQueryError("from_block is after to_block; swap them")
    return out
