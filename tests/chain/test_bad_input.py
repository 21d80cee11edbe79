"""Bad input gets an error that names the problem, and nothing is sent."""

from __future__ import annotations

import pytest

from chain.errors import InvalidInputError, RegistryRevertError
from chain.types import Scenario
from tests.conftest import HASH, HOLDER_START, World


def nonce(world: World, account) -> int:
    return int(world.client.rpc.call("eth_getTransactionCount", account.address, "latest"), 16)


def test_zero_and_negative_amounts_are_refused_before_sending(world: World) -> None:
    c, holder = world.client, world.cast.holder
    before = nonce(world, holder)
    for bad in (0, -5):
        with pytest.raises(InvalidInputError, match="amount must be a whole number of kgCO2e above zero"):
            c.transfer(holder.address, world.cast.buyer.address, world.batch_id, bad, sender=holder)
        with pytest.raises(InvalidInputError, match="amount"):
            c.retire(world.op(), world.batch_id, bad, Scenario.PERSONAL, HASH, HASH, sender=holder)
    assert nonce(world, holder) == before
    # the contract refuses them too, for callers that skip the client
    sim = c.simulate("retire", (world.op(), world.batch_id, 0, 0, HASH, HASH), sender=holder)
    assert sim.error is not None and sim.error.name == "RegistryZeroAmount"


def test_an_unknown_batch_is_named(world: World) -> None:
    with pytest.raises(RegistryRevertError) as refused:
        world.client.retire(world.op(), 999, 1, Scenario.PERSONAL, HASH, HASH, sender=world.cast.holder)
    assert refused.value.name == "RegistryUnknownBatch" and refused.value.args_by_name == {"batchId": 999}
    assert "RegistryUnknownBatch(batchId=999): no such batch" in str(refused.value)


def test_more_than_the_free_balance_names_free_and_needed(world: World) -> None:
    holder = world.cast.holder
    with pytest.raises(RegistryRevertError) as refused:
        world.client.transfer(holder.address, world.cast.buyer.address, world.batch_id, HOLDER_START + 1, sender=holder)
    assert refused.value.args_by_name == {
        "holder": holder.address,
        "batchId": world.batch_id,
        "free": HOLDER_START,
        "needed": HOLDER_START + 1,
    }


def test_pledged_units_are_not_free(world: World) -> None:
    c, holder = world.client, world.cast.holder
    c.pledge(world.op(), world.batch_id, HOLDER_START, world.cast.pledgee.address, HASH, sender=holder)
    with pytest.raises(RegistryRevertError) as refused:
        c.retire(world.op(), world.batch_id, 1, Scenario.PERSONAL, HASH, HASH, sender=holder)
    assert refused.value.args_by_name["free"] == 0
    assert "pledged and frozen units cannot move" in str(refused.value)


@pytest.mark.parametrize("bad", ["0x123", "not-an-address", "0x" + "g" * 40, ""])
def test_malformed_addresses_are_named(world: World, bad: str) -> None:
    with pytest.raises(InvalidInputError, match=r"recipient .* is not an address"):
        world.client.transfer(world.cast.holder.address, bad, world.batch_id, 1, sender=world.cast.holder)


def test_malformed_ids_and_hashes_are_named(world: World) -> None:
    c = world.client
    with pytest.raises(InvalidInputError, match=r"project id: id 'x+' must be 1-31 printable ASCII characters"):
        c.issue(
            world.op(),
            project_id="x" * 40,
            vintage=2024,
            monitoring_start=1,
            monitoring_end=2,
            quantity=1,
            reserve_bps=0,
            verification_report_hash=HASH,
        )
    with pytest.raises(InvalidInputError, match="claim hash must be 32 bytes"):
        c.retire(world.op(), world.batch_id, 1, Scenario.PERSONAL, HASH, b"short", sender=world.cast.holder)
    with pytest.raises(InvalidInputError, match="reserve share 12000"):
        c.issue(
            world.op(),
            project_id="P",
            vintage=2024,
            monitoring_start=1,
            monitoring_end=2,
            quantity=1,
            reserve_bps=12_000,
            verification_report_hash=HASH,
        )


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda k: k.pop("crypto"), "has no 'crypto' part"),
        (lambda k: k["crypto"].pop("kdf"), "KeyError reading its 'crypto' part"),
        (lambda k: k["crypto"].update(ciphertext="zz"), "reading its 'crypto' part"),
        (lambda k: k.update(version=9), "reading its 'crypto' part"),
    ],
)
def test_a_damaged_keystore_is_named_not_taken_for_a_wrong_password(tmp_path, damage, said) -> None:
    import json

    from eth_account import Account

    from chain.errors import KeyConfigurationError
    from chain.keys import load_keystore, write_keystore

    path = write_keystore(Account.create(), tmp_path / "operator.json", "correct horse battery")
    keyfile = json.loads(path.read_text())
    damage(keyfile)
    path.write_text(json.dumps(keyfile))
    with pytest.raises(KeyConfigurationError) as refused:
        load_keystore(path, "correct horse battery")
    assert f"keystore {path} is damaged or not an Ethereum keystore" in str(refused.value)
    assert said in str(refused.value) and "wrong password" not in str(refused.value)


def test_a_redirect_or_retry_log_line_of_urllib3_keeps_no_path_or_query(caplog) -> None:
    import logging

    import chain.rpc  # noqa: F401  (importing it puts the filter on urllib3's loggers)

    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3.poolmanager").info(
        "Redirecting %s -> %s", "https://u:pw@node.example/v3/KEY1", "https://node.example/v3/KEY2?apikey=s3cr3t"
    )
    logging.getLogger("urllib3.util.retry").debug("Incremented Retry for (url='%s'): %r", "/v3/KEY3", "Retry(total=2)")
    text = caplog.text
    assert "Redirecting https://node.example/… -> https://node.example/…" in text
    assert "Incremented Retry for (url='/…')" in text
    assert not any(secret in text for secret in ("KEY1", "KEY2", "KEY3", "s3cr3t", "pw@"))
