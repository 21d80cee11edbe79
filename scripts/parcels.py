"""Land parcels from a GeoJSON or CSV file, as the hashes that go on chain.

A parcel's hash is sha256 of its identifier (`parcel_id`: a forest-right certificate or real-estate
unit number) when the file gives one, so the same parcel hashes the same in every project and
uniqueness holds; a GeoJSON feature without one hashes its geometry in canonical JSON (sorted
keys, no spaces).
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from chain.errors import InvalidInputError


def parcel_hashes(path: Path) -> list[bytes]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InvalidInputError(f"cannot read the parcel file {path} (UTF-8 GeoJSON or CSV)") from None
    hashes = _from_geojson(text, path) if path.suffix.lower() in (".geojson", ".json") else _from_csv(text, path)
    if not hashes:
        raise InvalidInputError(f"{path} lists no parcels")
    if len(set(hashes)) != len(hashes):
        raise InvalidInputError(f"{path} lists the same parcel twice")
    return hashes


def parcel_hash(parcel_id: str) -> bytes:
    return hashlib.sha256(parcel_id.strip().encode("utf-8")).digest()


def _from_geojson(text: str, path: Path) -> list[bytes]:
    try:
        features = json.loads(text)["features"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInputError(f"{path} is not a GeoJSON FeatureCollection") from None
    hashes = []
    for n, feature in enumerate(features, start=1):
        parcel_id = (feature.get("properties") or {}).get("parcel_id")
        if parcel_id:
            hashes.append(parcel_hash(str(parcel_id)))
        elif feature.get("geometry"):
            canonical = json.dumps(feature["geometry"], sort_keys=True, separators=(",", ":"))
            hashes.append(hashlib.sha256(canonical.encode()).digest())
        else:
            raise InvalidInputError(f"{path}: feature {n} has neither a parcel_id nor a geometry")
    return hashes


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
