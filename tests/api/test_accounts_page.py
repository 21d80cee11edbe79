"""The signed statement link: its HMAC token (accounts/links.py), the link an app asks for, the
bilingual page it opens (rendered by Chromium), and the clear pages of a forged or expired link;
and the access log of a real server, which must never hold a person's data."""

# ruff: noqa: F811  # the fixtures imported from tests/api/accounts_helpers.py are the parameters' names

from __future__ import annotations

import json
import logging
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accounts import links, pointslog
from accounts.settings import AccountsSettings, link_key
from api.app import create_app
from tests.api.accounts_helpers import PERSONAL, V1, Sources, _keys, client, context, world  # noqa: F401
from tests.api.browser import chromium_page
from tests.api.server import free_port, serve_thread
from tests.api.test_accounts_records import post, trip
from tests.api.test_browser_fonts import box_problems, cmap, look

KEY = bytes(range(32))
ACCOUNT = "acc_" + "b" * 26


def test_a_token_opens_its_account_until_it_expires_and_nothing_else() -> None:
    token = links.sign(KEY, ACCOUNT, 2_000)
    assert token.startswith(f"{ACCOUNT}.2000.") and len(token) == 30 + 1 + 4 + 1 + 43  # mac: 32 bytes in base64url
    assert links.verify(KEY, token, 1_999) == (ACCOUNT, 2_000)
    with pytest.raises(links.LinkExpiredError):
        links.verify(KEY, token, 2_000)  # valid until, not through, its expiry
    account, expiry, mac = token.split(".")
    for forged in (
        f"{'acc_' + 'c' * 26}.{expiry}.{mac}",  # another account under the same mac
        f"{account}.9999999999.{mac}",  # a later expiry: forged, not merely expired or valid
        f"{account}.02000.{mac}",  # another spelling of the same number
        f"{account}.{expiry}.{mac[:-1]}A" if mac[-1] != "A" else f"{account}.{expiry}.{mac[:-1]}B",
        links.sign(bytes(32), ACCOUNT, 2_000),  # another key
        "",
        "x" * 10_000,
    ):
        with pytest.raises(links.LinkForgedError):
            links.verify(KEY, forged, 1_000)


def test_the_link_key_is_generated_once_private_and_a_bad_one_named(tmp_path: Any) -> None:
    settings = AccountsSettings(link_key_file=tmp_path / "k" / "link.key")
    first = link_key(settings)
    assert len(first) == 32 and link_key(settings) == first  # made once, then read
    assert (tmp_path / "k" / "link.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(links.LinkError, match="64 hex digits"):
        link_key(AccountsSettings(link_key="abc"))


def _link(world: Sources, client: TestClient, account: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"{V1}/{account}/statement-links", json=body, headers=world.auth("metro-app"))
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def test_a_link_opens_the_bilingual_statement_and_forged_or_expired_ones_a_clear_page(
    world: Sources, client: TestClient
) -> None:
    account = world.open(client, "metro-app")
    post(world, client, "metro-app", [trip(account, "m-1", km="10")])  # 10 × 46.8 = 468 points
    pointslog.append_pending(world.engine)
    link = _link(world, client, account, ttl=600)
    assert link["url"].startswith("http://testserver/accounts/statement?t=acc_")
    assert abs(link["expires_at"] - (time.time() + 600)) < 5
    page = client.get(link["url"])
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "468 积分 points" in page.text and "余额 Balance" in page.text and "已入日志 logged" in page.text
    for value in PERSONAL.values():
        assert value not in page.text
    token = link["url"].split("t=")[1]
    forged = client.get(f"/accounts/statement?t={token[:-2]}xy")
    assert forged.status_code == 403 and "链接无效" in forged.text and "not valid" in forged.text
    assert client.get("/accounts/statement").status_code == 403
    key = world.app.state.accounts_link_key
    expired = client.get(f"/accounts/statement?t={links.sign(key, account, int(time.time()) - 1)}")
    assert expired.status_code == 410 and "已过期" in expired.text and "expired" in expired.text
    r = client.post(f"{V1}/{account}/statement-links", json={"ttl": 10**9}, headers=world.auth("metro-app"))
    assert r.status_code == 422 and "at most" in r.json()["detail"]
    # the person deletes their data: the link shows nothing any more
    assert client.delete(f"{V1}/{account}", headers=world.auth("metro-app")).status_code == 200
    assert client.get(link["url"]).status_code == 410


def test_chromium_renders_the_statement(world: Sources, tmp_path: Path) -> None:
    port = free_port()
    app = create_app(context(world.engine, public_url=f"http://127.0.0.1:{port}"))
    with serve_thread(app, port, access_log=False) as base:
        app_client = TestClient(app, base_url=base)
        account = world.open(app_client, "metro-app")
        post(
            world,
            app_client,
            "metro-app",
            [trip(account, "m-1", km="10"), trip(account, "m-2", km="2", entry="春熙路")],
        )
        pointslog.append_pending(world.engine)
        url = _link(world, app_client, account)["url"]
        assert url.startswith(base)
        with chromium_page() as page:
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
            failed: list[str] = []
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            page.goto(url)
            balance = page.inner_text("#balance")
            kinds = page.eval_on_selector_all("tr.entry", "rows => rows.map(r => r.dataset.kind)")
            title = page.inner_text("#title")
        assert balance.startswith("561 积分 points")  # 468 + 93 (2 × 46.8 = 93.6, rounded down)
        assert kinds == ["credit", "credit"] and "Statement" in title and "积分明细" in title
        assert errors == []  # the page's style and script pass the Content-Security-Policy: nothing refused
        assert [u for u in failed if not u.endswith("/favicon.ico")] == []  # the font and the page itself load
        # every Chinese character drawn with the served web font, none as a box (this machine has no CJK font)
        seen = look(url, tmp_path / "statement.png", "#entries")
        problems = box_problems(seen, cmap())
        assert problems == [], "\n".join(problems)
        # the short refusal page: its characters are all in the font and the font loads; which element
        # Chromium draws before the font is in is a race there (the explorer's, tests/api/test_browser_fonts.py)
        seen = look(f"{base}/accounts/statement?t=forged", tmp_path / "forged.png", "#reason")
        assert "链接无效" in seen["text"] and box_problems(seen, cmap(), per_element=False) == []


def test_the_access_log_never_holds_personal_data(world: Sources, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(context(world.engine))
    with serve_thread(app, free_port(), access_log=True) as base:

        def call(method: str, path: str, body: Any = None) -> Any:
            data = None if body is None else json.dumps(body).encode()
            request = urllib.request.Request(
                base + path,
                data=data,
                method=method,
                headers={**world.auth("metro-app"), "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError as e:
                return json.loads(e.read())

        opened = call("POST", V1, {"personal": PERSONAL, "consents": ["transit"]})
        account = opened["account"]
        call("POST", V1, {"personal": {**PERSONAL, "name": "名" * 500}})  # refused: the field named, not its value
        call("POST", f"{V1}/records", {"records": [trip(account, "m-1")]})
        assert call("GET", f"{V1}/{account}/export")["export"]["personal"] == PERSONAL
        call("DELETE", f"{V1}/{account}")
    lines = [r.getMessage() for r in caplog.records]
    assert any("POST /api/v1/accounts" in line for line in lines)  # the access log was captured
    for value in [*PERSONAL.values(), "名名名"]:
        assert not [line for line in lines if value in line], value
