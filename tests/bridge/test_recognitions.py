"""The destination's MethodologyRecognitions companion: registrar-gated, one-way per change."""

from __future__ import annotations

import pytest

from bridge.recognition import RecognitionContract
from chain.errors import RegistryRevertError
from tests.bridge.conftest import OTHER_METHODOLOGY, SOURCE_NAME, Pair
from tests.conftest import METHODOLOGY


def test_only_the_registrar_records_and_a_no_change_is_refused(pair: Pair) -> None:
    r = pair.recognitions
    assert r.is_recognised(SOURCE_NAME, METHODOLOGY)
    assert not r.is_recognised("CQ-OTHER", METHODOLOGY)  # recognition is per origin registry
    stranger = RecognitionContract.at(
        r.client.rpc, r.client.address, chain_id=r.client.chain_id, signer=pair.destination.cast.stranger
    )
    with pytest.raises(RegistryRevertError) as refused:
        stranger.recognise(SOURCE_NAME, OTHER_METHODOLOGY, b"\x01" * 32)
    assert refused.value.name == "RecognitionNotAuthorised"
    with pytest.raises(RegistryRevertError) as unchanged:
        r.recognise(SOURCE_NAME, METHODOLOGY, b"\x01" * 32)
    assert unchanged.value.name == "RecognitionUnchanged"
    done = r.recognise(SOURCE_NAME, OTHER_METHODOLOGY, b"\x02" * 32)
    assert done.event("MethodologyRecognised").args["evidenceHash"] == b"\x02" * 32
    assert r.refusals(SOURCE_NAME, {METHODOLOGY, OTHER_METHODOLOGY}) == {}
    r.withdraw(SOURCE_NAME, OTHER_METHODOLOGY, b"\x03" * 32)
    assert set(r.refusals(SOURCE_NAME, {METHODOLOGY, OTHER_METHODOLOGY})) == {OTHER_METHODOLOGY}
