"""The API tests' new, empty PostgreSQL databases (tests/api/conftest.py), for the backups of every domain."""

from tests.api.conftest import fresh_postgres  # noqa: F401  # a fixture, found by pytest by its name here
