"""Every request example the accounts API publishes in its OpenAPI document is one the API accepts:
each is posted as written (only its placeholder account id replaced by a real account's) and answered
without a refusal. An app developer copies these first."""

# ruff: noqa: F811  # the fixtures imported from tests/api/accounts_helpers.py are the parameters' names

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.api.accounts_helpers import V1, Sources, _keys, client, world  # noqa: F401

PLACEHOLDER = "acc_" + "a" * 26  # the examples' account id: no real account has it


def examples(doc: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(method, path, example body) for every request example under /api/v1/accounts."""
    found = []
    for path, ops in doc["paths"].items():
        if not path.startswith(V1):
            continue
        for method, op in ops.items():
            media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            bodies = [media["example"]] if "example" in media else []
            bodies += [e["value"] for e in media.get("examples", {}).values()]
            found += [(method.upper(), path, body) for body in bodies]
    return found


def test_every_published_example_is_accepted(world: Sources, client: TestClient) -> None:
    found = examples(world.app.openapi())
    assert (("POST", f"{V1}/records")) in {(m, p) for m, p, _ in found}
    account = world.open(client, "metro-app", consents=["transit", "cycling", "walking", "venue", "hotel"])
    for method, path, body in found:
        sent = json.loads(json.dumps(body).replace(PLACEHOLDER, account))
        r = client.request(method, path.replace("{account}", account), json=sent, headers=world.auth("metro-app"))
        assert r.status_code == 200, (method, path, r.text)
        answer = r.json()
        refused = [o for o in answer.get("outcomes", []) if o["status"] == "refused"]
        assert refused == [], (path, refused)
        if path == f"{V1}/records":
            # the example: 12.5 pkm by metro × 46.8 g/pkm (Shenzhen's published factor) = 585 g = 585 points
            assert answer["credited"] == 1 and answer["points"] == 585
