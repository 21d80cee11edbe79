"""`ledger audit` redoes the land checks from the stored geometry and the chain: clean after honest
registrations; after the database is tampered with (a parcel redrawn over another project's land),
it reports the overlap with its m², the hash that no longer matches, and exits 1."""

from __future__ import annotations

import json

from sqlalchemy import update
from sqlmodel import col

from indexer.db import make_engine
from land.geometry import make_parcel
from land.store import LandParcelRow
from tests.land.shapes import collection, rect
from tests.land.test_cli import ledger, register  # noqa: F401  # the fixture, shared


def test_the_audit_finds_overlaps_and_hashes_that_do_not_match(ledger, tmp_path) -> None:  # noqa: F811  # the fixture
    a, b = tmp_path / "a.geojson", tmp_path / "b.geojson"
    a.write_text(json.dumps(collection(("YA-1", rect(0, 0, 100, 100)))))
    b.write_text(json.dumps(collection(("YA-2", rect(100, 0, 100, 100)))))  # shares an edge: fine
    register(ledger, "P-A", a, 10_000)
    register(ledger, "P-B", b, 10_000)
    ledger("index", "--once")
    clean = ledger("audit", "--json")
    report = json.loads(clean.output)
    assert report["clean"] and report["checked"]["parcels"] == 2 and report["checked"]["parcel overlaps"] == 0

    # someone redraws P-B's parcel 50 m west in the database: 50 m × 100 m now lies on P-A's land
    moved = make_parcel("YA-2", rect(50, 0, 100, 100))
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}")
    with engine.begin() as conn:
        conn.execute(update(LandParcelRow).where(col(LandParcelRow.project_id) == "P-B").values(geometry=moved.text))
    engine.dispose()
    dirty = ledger("audit", "--json", ok=False)
    assert dirty.exit_code == 1
    found = [(d["subject"], d["detail"]) for d in json.loads(dirty.output)["differences"] if d["check"] == "land"]
    assert len(found) == 2
    assert found[0][0] == "parcel YA-2 of P-B" and "the stored geometry hashes to " + moved.hash in found[0][1]
    subject, detail = found[1]
    assert subject == "parcel YA-1 of P-A" and detail.startswith(
        "parcel YA-1 overlaps project P-B's parcel YA-2 by 4,99"
    )
