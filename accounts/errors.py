"""The accounts domain's errors: each a one-line message naming the problem and the fix. The edges
map them to HTTP statuses (api/) or printed lines (scripts/)."""

from __future__ import annotations


class AccountsError(ValueError):
    """Base: a refused request, nothing stored."""


class InputError(AccountsError):
    """Bad input (a malformed field, an unknown name)."""


class KeyRefusedError(AccountsError):
    """An API key that is unknown, malformed, revoked or wrong; never echoes the secret."""


class ScopeError(AccountsError):
    """A valid key without the scope the operation needs."""


class NotFoundError(AccountsError):
    """An unknown source, key or account."""


class ConflictError(AccountsError):
    """The request contradicts what is stored (a source id taken, a deleted account)."""


class BatchTooLargeError(InputError):
    """A batch of more records than one request may carry: refused as a whole."""
