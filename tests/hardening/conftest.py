"""The hardening tests run the `ledger` command as the retire-and-certify tests do: the same fixture."""

from tests.scripts.test_retire_certify import ledger  # noqa: F401  # a fixture, found by pytest by its name here
