"""`ledger offsets purchase | retire | certify` on the session's anvil, signing as the platform:
three purchases (one retried), one retirement, three certificates that `ledger verify` accepts;
bad input is one line with nothing stored."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from chain.deploy import record_path
from scripts.cli import app
from tests.offsets.conftest import Platform, account

runner = CliRunner()


def _env(p: Platform) -> dict[str, str]:
    d = p.world.registry.deployment
    deployments = p.tmp / "cli-deployments"
    deployments.mkdir(exist_ok=True)
    record_path(deployments, d.chain_id).write_text(d.to_json())
    return {
        "LEDGER_RPC_URL": p.client.rpc.url,
        "LEDGER_DEPLOYMENTS_DIR": str(deployments),
        "LEDGER_VAR_DIR": str(p.tmp / "var"),
        "DATABASE_URL": p.db_url,
        "LEDGER_DATA_KEY_FILE": str(p.tmp / "data.key"),
        "LEDGER_PRIVATE_KEY": "0x" + bytes(p.cast.platform.key).hex(),
        "LEDGER_CONFIRMATIONS": "0",
    }


def _ledger(env: dict[str, str], *argv: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(argv), env=env)
    assert "Traceback" not in result.output, result.output
    assert (result.exit_code == 0) is ok, f"{argv}: {result.output}"
    return result.output


def test_purchase_retire_certify_verify(platform: Platform) -> None:
    p = platform
    env = _env(p)
    start = p.balance()
    for n, kg in ((1, 4), (2, 6), (3, 5)):
        out = _ledger(
            env,
            "offsets",
            "purchase",
            "--account-commitment",
            account(f"acct-000{n}", "s"),
            "--kg",
            str(kg),
            "--key",
            f"cli-{n}",
        )
        assert "taken" in out and "already" not in out
    again = _ledger(
        env, "offsets", "purchase", "--account-commitment", account("acct-0001", "s"), "--kg", "4", "--key", "cli-1"
    )
    assert "already taken" in again
    out = _ledger(env, "offsets", "retire", "--holder", p.cast.holder.address, "--batch", str(p.world.batch_id))
    assert re.search(r"retired 15 kg for 3 purchase\(s\) in 0x[0-9a-f]{64} \(sent\)", out), out
    assert p.balance() == start - 15  # 4 + 6 + 5, once
    assert "retired" not in _ledger(
        env, "offsets", "retire", "--holder", p.cast.holder.address, "--batch", str(p.world.batch_id)
    )
    out = _ledger(env, "offsets", "certify")
    ids = re.findall(r"SCCW-\d+-\d{6}", out)
    assert len(ids) == 3 and "3 personal certificate(s) issued" in out
    assert p.service.anchor(force=True) is not None
    for cert_id in ids:
        path = Path(p.tmp / f"{cert_id}.json")
        path.write_text(json.dumps(p.service.document(cert_id)), "utf-8")
        registry = p.world.registry.deployment.address
        verdict = json.loads(
            _ledger(env, "verify", str(path), "--rpc", p.client.rpc.url, "--registry", registry, "--json")
        )
        assert verdict["verdict"] == "valid", verdict
    assert "0 personal certificate(s) issued" in _ledger(env, "offsets", "certify")


def test_bad_input_is_one_line(platform: Platform) -> None:
    env = _env(platform)
    out = _ledger(env, "offsets", "purchase", "--account-commitment", "Alice", "--kg", "4", "--key", "k", ok=False)
    assert out.strip().startswith("error:") and "64 lowercase hex" in out and len(out.strip().splitlines()) == 1
    out = _ledger(
        env, "offsets", "purchase", "--account-commitment", account("a", "s"), "--kg", "0", "--key", "k", ok=False
    )
    assert "whole number of kilograms" in out
    # nothing pending and nothing to retire from: the stranger holds no units
    out = _ledger(env, "offsets", "purchase", "--account-commitment", account("a", "s"), "--kg", "4", "--key", "k2")
    out = _ledger(
        env,
        "offsets",
        "retire",
        "--holder",
        platform.cast.stranger.address,
        "--batch",
        str(platform.world.batch_id),
        ok=False,
    )
    assert "no pending purchase fits the custodial holder's oldest lot" in out and len(out.strip().splitlines()) == 1
