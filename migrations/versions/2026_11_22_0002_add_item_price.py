"""Add an exact, optional price to items (existing rows get NULL: no price yet).

NUMERIC(12, 2) on PostgreSQL; integer cents on SQLite, which has no exact decimal type
(see app.db.Money).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:31:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(
            sa.Column(
                "price",
                sa.Numeric(12, 2).with_variant(sa.BigInteger(), "sqlite"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("price")
