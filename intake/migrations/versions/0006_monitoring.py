"""monitoring: what the trends and the published figures count on each case (first
contact, outcome, fortnightly updates on time, keyed hashes for repeat locations and
victims) and the summary table they are read from

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

The summary starts empty: ``hatereport stats rebuild`` fills it (and these columns) from
the cases and their timelines; from then on every change to a case keeps it up to date.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("first_contact_at", sa.DateTime(), nullable=True))
    op.add_column("cases", sa.Column("last_contact_at", sa.DateTime(), nullable=True))
    op.add_column("cases", sa.Column("outcome", sa.String(length=32), nullable=True))
    for name in ("updates_on_time", "updates_late", "place_seen", "victim_seen"):
        op.add_column("cases", sa.Column(name, sa.Integer(), nullable=False,
                                         server_default="0"))
    op.add_column("cases", sa.Column("place_hash", sa.String(length=64), nullable=True))
    op.add_column("cases", sa.Column("victim_hash", sa.String(length=64), nullable=True))
    op.add_column("cases", sa.Column("counted", sa.Text(), nullable=True))
    op.create_index("ix_cases_place_hash", "cases", ["place_hash"])
    op.create_index("ix_cases_victim_hash", "cases", ["victim_hash"])
    op.create_table(
        "stats_counts",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "area", "dim", "value"),
    )


def downgrade() -> None:
    op.drop_table("stats_counts")
    op.drop_index("ix_cases_victim_hash", table_name="cases")
    op.drop_index("ix_cases_place_hash", table_name="cases")
    for name in ("counted", "victim_hash", "place_hash", "victim_seen", "place_seen",
                 "updates_late", "updates_on_time", "outcome", "last_contact_at",
                 "first_contact_at"):
        # ALTER TABLE ... DROP COLUMN in place (as 0004 does), never a batch copy.
        op.execute(f"ALTER TABLE cases DROP COLUMN {name}")
