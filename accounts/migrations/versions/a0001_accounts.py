"""accounts: sources, keys, accounts, consents, behaviour methodology, records, points ledger, rights,
the points log

Revision ID: a0001
Revises:
Create Date: 2026-11-30 18:10:00

DEVELOPMENT PLACEHOLDER: creates the tables as accounts/tables.py defines them now. It is replaced
by a frozen create_table migration before the domain is released.
"""

from alembic import op

revision = "a0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    from accounts import tables

    bind = op.get_bind()
    for table in tables.ALL:
        table.create(bind, checkfirst=True)


def downgrade() -> None:
    from accounts import tables

    bind = op.get_bind()
    for table in reversed(tables.ALL):
        table.drop(bind, checkfirst=True)
