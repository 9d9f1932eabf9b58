"""attempts: failed tries at a secret per key (a follow-up reference, a sign-in address),
counted in the database for every process alike; follow-up locks move off the cases

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# Only the stable primitive: app modules move, a migration must run the same for ever.
from intake.crypto import keyed_hash

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_cases = sa.table("cases", sa.column("reference", sa.String()),
                  sa.column("followup_failures", sa.Integer()),
                  sa.column("followup_locked_until", sa.DateTime()))


def _followup_key(reference: str) -> str:
    """The attempts row's key for a follow-up reference, as ``intake.guard.Limit.key``
    makes it for the "followup" limit (the format is fixed by the rows it keys)."""
    return keyed_hash(f"attempts\x00followup\x00{reference}")


def upgrade() -> None:
    attempts = op.create_table(
        "attempts",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index("ix_attempts_window_start", "attempts", ["window_start"])
    _carry_over_followup_locks(attempts)


def _carry_over_followup_locks(attempts: sa.Table) -> None:
    """A reference locked (or counting wrong codes) on its case stays so, now counted in
    the attempts table. The cases' own columns are left as they were, for a downgrade."""
    # The hash key is configured before migrations run (intake.crypto.configure in
    # create_app); it is needed only when there is something to carry over.
    connection = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = connection.execute(sa.select(
        _cases.c.reference, _cases.c.followup_failures, _cases.c.followup_locked_until,
    ).where(sa.or_(_cases.c.followup_locked_until > now,
                   _cases.c.followup_failures > 0))).all()
    for reference, failures, locked_until in rows:
        locked = locked_until is not None and locked_until > now
        connection.execute(attempts.insert().values(
            key_hash=_followup_key(reference), failures=0 if locked else failures or 0,
            window_start=now, locked_until=locked_until if locked else None))


def downgrade() -> None:
    op.drop_index("ix_attempts_window_start", table_name="attempts")
    op.drop_table("attempts")
