"""Land parcels from a GeoJSON or CSV file: the hashes that go on chain, and the land behind them.

GeoJSON (the form to use): each feature is a parcel with `properties.parcel_id` and a Polygon or
MultiPolygon, validated, measured and put in canonical form by land/ (docs/land.md); its hash is
sha256 of the canonical JSON of its id and geometry, and the registration is checked for overlap
with every live project's parcels before anything is sent.

CSV (a `parcel_id` column) gives ids without land: kept for files made before parcels had
geometry, it hashes sha256 of the id and cannot be checked for overlap, which the command says.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from chain.errors import InvalidInputError

if TYPE_CHECKING:  # land/ (shapely, pyproj: a third of a second) is imported by the commands that use it
    from land.geometry import Parcel
    from land.overlap import Conflict


@dataclass(frozen=True)
class ParcelFile:
    hashes: list[bytes]
    parcels: list[Parcel] = field(default_factory=list)  # empty for a CSV: ids only, no land

    @property
    def located(self) -> bool:
        return bool(self.parcels)


def read_parcels(path: Path) -> ParcelFile:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Notepad, Excel "UTF-8 with BOM") is not content
    except (OSError, UnicodeDecodeError):
        raise InvalidInputError(f"cannot read the parcel file {path} (UTF-8 GeoJSON or CSV)") from None
    if path.suffix.lower() in (".geojson", ".json"):
        from land.geometry import parse_parcels

        parcels = parse_parcels(text, str(path))
        return ParcelFile([bytes.fromhex(p.hash) for p in parcels], parcels)
    hashes = _from_csv(text, path)
    if not hashes:
        raise InvalidInputError(f"{path} lists no parcels")
    if len(set(hashes)) != len(hashes):
        raise InvalidInputError(f"{path} lists the same parcel twice")
    return ParcelFile(hashes)


def parcel_hashes(path: Path) -> list[bytes]:
    return read_parcels(path).hashes


def parcel_hash(parcel_id: str) -> bytes:
    """A CSV parcel's hash: its id only (no geometry to hash)."""
    return hashlib.sha256(parcel_id.strip().encode("utf-8")).digest()


def _from_csv(text: str, path: Path) -> list[bytes]:
    rows = list(csv.DictReader(text.splitlines()))
    if rows and "parcel_id" not in rows[0]:
        raise InvalidInputError(f"{path} needs a parcel_id column")
    hashes = []
    for line, row in enumerate(rows, start=2):
        if not (row.get("parcel_id") or "").strip():
            raise InvalidInputError(f"{path} line {line}: empty parcel_id")
        hashes.append(parcel_hash(row["parcel_id"]))
    return hashes


def check_land(project_id: str, area_m2: int, parcel_file: ParcelFile, map_out: Path | None) -> Engine | None:
    """Refuse, before anything is sent, parcels whose area disagrees with `--area-m2` or that overlap
    each other or another live project's parcels; write the map if asked (refused overlaps in red).
    The database (DATABASE_URL) to store the land in once the chain accepts it."""
    if not parcel_file.located:  # ids alone: the same land under another id would pass
        raise InvalidInputError(
            "a CSV names parcels without their land, so no overlap check can be made; give the parcels as a "
            "GeoJSON FeatureCollection of Polygon or MultiPolygon features with a parcel_id each (docs/land.md)"
        )
    from certificates.db import create_schema
    from indexer.db import make_engine
    from land.check import find_conflicts
    from land.errors import ParcelOverlapError
    from land.geometry import check_declared_area

    check_declared_area(area_m2, parcel_file.parcels)
    engine = make_engine()
    create_schema(engine)
    with engine.connect() as conn:
        found = find_conflicts(conn, project_id, parcel_file.parcels)
        if map_out is not None:
            _write_map(conn, project_id, parcel_file.parcels, found, map_out)
    if found:
        raise ParcelOverlapError(found)
    return engine


@contextmanager
def land_lock(parcel_file: ParcelFile, *, dry_run: bool) -> Iterator[None]:
    """Hold the database's land lock (land/lock.py) around a registration's check, send and store, so
    that two registrations of overlapping land cannot both pass the check before either is stored."""
    if not parcel_file.located or dry_run:
        yield
        return
    from indexer.db import make_engine
    from land.lock import registration_lock

    engine = make_engine()
    try:
        with registration_lock(engine):
            yield
    finally:
        engine.dispose()


def store_land(engine: Engine, project_id: str, parcel_file: ParcelFile) -> None:
    from land.store import save

    with engine.begin() as conn:
        save(conn, project_id, parcel_file.parcels)


def _write_map(conn: Connection, project_id: str, parcels: list[Parcel], found: list[Conflict], out: Path) -> None:
    from land.store import bounds, live_parcels
    from land.svg import Layer, render

    x0, y0, x1, y1 = bounds(parcels)
    pad_x, pad_y = (x1 - x0) * 0.25 + 1e-4, (y1 - y0) * 0.25 + 1e-4
    clashing = {(c.other_project, c.other_parcel) for c in found} | {("", c.other_parcel) for c in found}
    clashing |= {("", c.parcel_id) for c in found}
    layers = [
        Layer(
            f"{p.project_id} {p.parcel_id}", p.shape, "conflict" if (p.project_id, p.parcel_id) in clashing else "other"
        )
        for p in live_parcels(conn, (x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y))
        if p.project_id != project_id
    ]
    layers += [
        Layer(
            f"{project_id} {p.parcel_id} ({p.area_m2:,.0f} m²)",
            p.shape,
            "conflict" if ("", p.parcel_id) in clashing else "project",
        )
        for p in parcels
    ]
    layers += [Layer(c.describe(), c.overlap, "overlap") for c in found if c.overlap is not None]
    verdict = f"refused: {len(found)} overlaps" if found else "no overlaps"
    try:
        out.write_text(render(layers, title=f"{project_id}: {len(parcels)} parcels, {verdict}"), encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot write the map {out} ({exc.strerror}); choose a writable --map path") from None
