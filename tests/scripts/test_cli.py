"""The main job and the first operator commands, through Typer's CliRunner against a real anvil."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.node import free_port, rpc_ready
from scripts.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, str]:
    values = {
        "LEDGER_VAR_DIR": str(tmp_path / "var"),
        "LEDGER_NODE_PORT": str(free_port()),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("LEDGER_RPC_URL", raising=False)
    return values


def test_up_starts_a_node_deploys_and_says_where_everything_is_then_keeps_the_state(env) -> None:
    first = runner.invoke(app, ["up", "--no-wait"])
    assert first.exit_code == 0, first.output
    assert "deployed now" in first.output and "REGISTRAR_ROLE" in first.output
    assert "new events mirrored into" in first.output
    assert "deployment record" in first.output
    assert (Path(env["LEDGER_VAR_DIR"]) / "deployments" / "31337.json").exists()
    assert (Path(env["LEDGER_VAR_DIR"]) / "anvil" / "state.json").exists()
    again = runner.invoke(app, ["up", "--no-wait"])
    assert again.exit_code == 0, again.output
    assert "(recorded)" in again.output  # the node came back from its state file: nothing redeployed


def test_node_start_status_deploy_status_stop(env) -> None:
    url = f"http://127.0.0.1:{env['LEDGER_NODE_PORT']}"
    try:
        assert runner.invoke(app, ["node", "start"]).exit_code == 0
        assert rpc_ready(url)
        assert "answering" in runner.invoke(app, ["node", "status"]).output
        deployed = runner.invoke(app, ["deploy"])
        assert deployed.exit_code == 0 and "deployed now" in deployed.output
        status = runner.invoke(app, ["status"])
        assert status.exit_code == 0 and "PAUSER_ROLE" in status.output and "paused" in status.output
    finally:
        stopped = runner.invoke(app, ["node", "stop"])
    assert stopped.exit_code == 0
    assert "not answering" in runner.invoke(app, ["node", "status"]).output


def test_an_unreachable_node_is_one_line_and_exit_code_one(env, monkeypatch) -> None:
    monkeypatch.setenv("LEDGER_RPC_URL", f"http://127.0.0.1:{free_port()}")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert "cannot reach the node" in result.output and "Traceback" not in result.output


def test_a_node_url_s_api_key_is_never_printed(env, monkeypatch) -> None:
    from chain.settings import ChainSettings

    port = free_port()
    monkeypatch.setenv("LEDGER_RPC_URL", f"http://127.0.0.1:{port}/v3/0123456789abcdef0123?key=s3cr3t")
    for command in (["status"], ["node", "status"]):
        result = runner.invoke(app, command)
        assert f"127.0.0.1:{port}/…" in result.output, result.output
        assert "0123456789abcdef" not in result.output and "s3cr3t" not in result.output
    assert ChainSettings().describe()["rpc_url"] == f"http://127.0.0.1:{port}/…"


def test_a_wrong_chain_id_is_named(env, anvil, monkeypatch) -> None:
    monkeypatch.setenv("LEDGER_RPC_URL", anvil.url)
    monkeypatch.setenv("LEDGER_CHAIN_ID", "56")
    result = runner.invoke(app, ["deploy"])
    assert result.exit_code == 1
    assert "is chain 31337, but the configuration expects chain 56" in " ".join(result.output.split())


def test_settings_come_from_a_config_file_under_the_environment(tmp_path, monkeypatch) -> None:
    from chain.settings import ChainSettings

    config = tmp_path / "ledger.toml"
    config.write_text('node_port = 9999\nblock_time = 3\nprivate_key = "0x' + "11" * 32 + '"\n')
    monkeypatch.setenv("LEDGER_CONFIG", str(config))
    monkeypatch.delenv("LEDGER_NODE_PORT", raising=False)
    monkeypatch.setenv("LEDGER_BLOCK_TIME", "2")
    settings = ChainSettings()
    assert (settings.node_port, settings.block_time) == (9999, 2)  # the environment wins
    shown = settings.describe()
    assert shown["private_key"] == "set (hidden)" and "11" * 32 not in str(shown)
    assert shown["config file"] == str(config)
