"""officers, allocation, case timeline, audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("telegram_chat", sa.Text(), nullable=True),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("duty", sa.Boolean(), nullable=False),
        sa.Column("alerts", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_officer_id", "audit_log", ["officer_id"])
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("officer_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("allocated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("acknowledged_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("next_update_due_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_update_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("update_reminded_for", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("followup_failures", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("followup_locked_until", sa.DateTime(), nullable=True))
        # Follow-up codes are now argon2 hashes (longer than the keyed hashes before).
        batch.alter_column("followup_code_hash", type_=sa.String(length=200),
                           existing_type=sa.String(length=64), existing_nullable=True)
        batch.add_column(sa.Column("risk_rating", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("risk_review_due", sa.Date(), nullable=True))
        batch.create_index("ix_cases_next_update_due_at", ["next_update_due_at"])
        batch.create_foreign_key("fk_cases_officer_id", "officers", ["officer_id"], ["id"])
        batch.create_index("ix_cases_officer_id", ["officer_id"])
        batch.create_index("ix_cases_officer_status", ["officer_id", "status"])
        batch.create_index("ix_cases_status_update_due", ["status", "next_update_due_at"])
    # Open cases from before casework get their fortnightly update from the first run.
    op.execute("UPDATE cases SET next_update_due_at = created_at WHERE status = 'open'")


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_status_update_due")
        batch.drop_index("ix_cases_officer_status")
        batch.drop_index("ix_cases_officer_id")
        batch.drop_constraint("fk_cases_officer_id", type_="foreignkey")
        batch.drop_index("ix_cases_next_update_due_at")
        batch.drop_column("risk_review_due")
        batch.drop_column("risk_rating")
        batch.alter_column("followup_code_hash", type_=sa.String(length=64),
                           existing_type=sa.String(length=200), existing_nullable=True)
        batch.drop_column("followup_locked_until")
        batch.drop_column("followup_failures")
        batch.drop_column("update_reminded_for")
        batch.drop_column("closed_at")
        batch.drop_column("last_update_at")
        batch.drop_column("next_update_due_at")
        batch.drop_column("escalated_at")
        batch.drop_column("acknowledged_at")
        batch.drop_column("allocated_at")
        batch.drop_column("officer_id")
    op.drop_table("audit_log")
    op.drop_table("case_events")
    op.drop_table("officers")
