"""Checks against the chain's state before anything is signed: a view call that names the problem
in the operator's words, where the contract's own refusal would be misleading (an unknown batch
reverts as "insufficient free balance: free=0" in the movements that read the balance first)."""

from __future__ import annotations

from chain.client import RegistryClient
from chain.client import amount as positive
from chain.errors import InvalidInputError
from scripts import args


def existing_batch(client: RegistryClient, batch_id: int, name: str = "--batch", *, amount: int | None = None) -> int:
    """`batch_id` if the registry has issued (or imported) that batch; the amount to move, if
    given, is checked first (what is wrong with the input itself comes before what the chain says)."""
    args.batch_id(batch_id, name)
    if amount is not None:
        positive("amount", amount)
    if client.batch(batch_id).issued == 0:
        raise InvalidInputError(
            f"batch {batch_id} does not exist; check {name} (the batch id that "
            "`ledger issue` or `ledger import` printed)"
        )
    return batch_id
