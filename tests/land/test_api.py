"""GET /api/v1/projects/{id}/parcels serves the stored canonical GeoJSON, from which anyone redoes
the on-chain hash; the explorer's project page draws the parcels and confirms each hash on chain."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from api.app import create_app
from certificates.context import ServiceContext
from certificates.settings import ServiceSettings
from chain.canonical import canonical_json, sha256_hex
from chain.rpc import JsonRpc
from indexer.db import make_engine
from land.canonical import canonical_geometry
from scripts.context import deployment
from tests.land.shapes import collection, rect
from tests.land.test_cli import ledger, register  # noqa: F401  # the fixture, shared

V1 = "/api/v1"


def test_the_parcels_as_geojson_and_on_the_explorer(ledger, anvil, tmp_path) -> None:  # noqa: F811  # the fixture
    file = tmp_path / "a.geojson"
    # drawn clockwise: the served form is the canonical one, counter-clockwise from its smallest vertex
    drawn = rect(0, 0, 100, 100)
    drawn["coordinates"] = [list(reversed(drawn["coordinates"][0]))]
    file.write_text(json.dumps(collection(("YA-<b>1</b>", drawn))))
    register(ledger, "P-API", file, 10_000)
    ledger("index", "--once")
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}")
    ctx = ServiceContext(engine, deployment(), ServiceSettings(), rpc=JsonRpc(anvil.url))
    with TestClient(create_app(ctx)) as api:
        body = api.get(f"{V1}/projects/P-API/parcels").json()
        assert body["type"] == "FeatureCollection" and body["project_id"] == "P-API"
        (feature,) = body["features"]
        assert feature["properties"]["area_m2"] == 9999.8
        ring = feature["geometry"]["coordinates"][0][0]
        assert ring[0] == [103.0, 30.0] and ring[1][1] == 30.0  # starts south-west, goes east: counter-clockwise
        # anyone can redo the hash from what is served
        canonical = canonical_geometry(feature["geometry"])
        redone = {
            "id": feature["id"],
            "geometry": {"type": "MultiPolygon", "coordinates": _lists(canonical["coordinates"])},
        }
        assert sha256_hex(canonical_json(redone)) == feature["properties"]["parcel_hash"]

        missing = api.get(f"{V1}/projects/P-NONE/parcels")
        assert missing.status_code == 404 and "no project P-NONE" in missing.json()["detail"]

        page = api.get("/explorer/project/P-API")
        assert page.status_code == 200
        assert page.text.count('data-kind="project"') == 1 and "✓ P-API" in page.text
        assert "YA-<b>1</b>" not in page.text and "YA-&lt;b&gt;1&lt;/b&gt;" in page.text  # text, never markup


def _lists(value: object) -> object:
    return [_lists(v) for v in value] if isinstance(value, (list, tuple)) else value
