"""The land audit (`ledger audit`): from the stored, served geometry alone, redo what a registration
checked. Every live project's parcels go into one STRtree and every pair of different projects
overlapping beyond the sliver tolerance is reported; every stored parcel's canonical hash is
redone from its GeoJSON and compared with the stored one; and the chain is asked who holds each
live parcel's hash (`parcelProject`), which must be the project that stored it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import col

from chain.types import from_short_id
from land.errors import LandError
from land.geometry import make_parcel
from land.overlap import StrtreeIndex, within_file
from land.store import LandParcelRow, live_condition, live_parcels

ParcelHolders = Callable[[Sequence[bytes]], list[str]]  # parcel hashes -> the project ids the chain names


def chain_holders(client: Any) -> ParcelHolders:
    """Ask the registry contract (a chain.client.RegistryClient) who holds each parcel hash."""

    def ask(hashes: Sequence[bytes]) -> list[str]:
        return [from_short_id(h) for h in client.view_many("parcelProject", [(h,) for h in hashes])]

    return ask


def audit_land(conn: Connection, holders: ParcelHolders, add: Callable[[str, str, str], None]) -> dict[str, int]:
    """Report each finding with `add(check, subject, detail)`; return what was checked."""
    rows = conn.execute(select(LandParcelRow).where(live_condition()).order_by(col(LandParcelRow.project_id))).all()
    for r in rows:
        subject = f"parcel {r.parcel_id} of {r.project_id}"
        try:
            redone = make_parcel(r.parcel_id, json.loads(r.geometry)).hash
        except (LandError, ValueError) as exc:
            add("land", subject, f"the stored geometry is not a valid parcel: {exc}")
            continue
        if redone != r.parcel_hash:
            add("land", subject, f"the stored geometry hashes to {redone}, the stored hash is {r.parcel_hash}")
    named = holders([bytes.fromhex(r.parcel_hash) for r in rows]) if rows else []
    for r, holder in zip(rows, named, strict=True):
        if holder != r.project_id:
            said = f"project {holder}" if holder else "no live project"
            add(
                "land",
                f"parcel {r.parcel_id} of {r.project_id}",
                f"the chain says hash {r.parcel_hash} belongs to {said}",
            )
    live = live_parcels(conn)
    index, overlaps = StrtreeIndex(live), 0
    for project in sorted({p.project_id for p in live}):
        own = [p for p in live if p.project_id == project]
        # a registration refuses overlaps within its own file too, so the audit redoes that check
        found = [replace(c, other_project=project) for c in within_file(own)] + index.conflicts(own, project)
        for c in found:
            if (project, c.parcel_id) < (c.other_project, c.other_parcel):  # each pair once
                overlaps += 1
                add("land", f"parcel {c.parcel_id} of {project}", c.describe())
    return {"parcels": len(rows), "parcel overlaps": overlaps}
