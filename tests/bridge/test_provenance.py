"""An imported kilogram retired in the destination, traced back to its source batch and serials."""

from __future__ import annotations

import pytest

from bridge.origin import origin_key
from bridge.provenance import trace
from chain.errors import InvalidInputError
from chain.opids import random_op_id
from chain.types import Scenario
from tests.bridge.conftest import SOURCE_NAME, Pair
from tests.conftest import HASH, ISSUED, PROJECT


def test_a_retired_import_traces_back_to_its_source_batch(pair: Pair) -> None:
    src, dst, cast = pair.source.client, pair.destination.client, pair.destination.cast
    export_id = pair.export(2_000)
    pair.relay().step()
    batch = int(dst.view("importedBatch", origin_key(src.chain_id, src.address, export_id)))
    dst.retire(random_op_id(), batch, 500, Scenario.ORGANISATION, HASH, HASH, sender=cast.buyer)
    assert dst.supply(batch).retired == 500

    relay = pair.relay()
    origin = trace(relay.source, relay.destination, batch)

    # source batch 1: serials 1 .. 100,000 (the first batch of a fresh registry starts at serial 1)
    assert (origin.source_batch, origin.first_serial, origin.last_serial) == (1, 1, ISSUED)
    assert (origin.origin_registry, origin.export_id, origin.quantity) == (SOURCE_NAME, export_id, 2_000)
    assert origin.source_project == PROJECT and origin.vintage == 2024
    assert origin.evidence_matches
    assert origin.serial_range() == f"{SOURCE_NAME}:1:1-100000"


def test_a_batch_that_is_not_an_import_is_one_line(pair: Pair) -> None:
    relay = pair.relay()
    with pytest.raises(InvalidInputError, match="batch 1 of CQ-TANHUITONG is not an import"):
        trace(relay.source, relay.destination, 1)
