"""The public registry's one error: a request it cannot answer, said in one line with the fix."""

from __future__ import annotations


class PublicQueryError(ValueError):
    """A filter, cursor or list name the public registry does not accept (the API answers 422)."""
