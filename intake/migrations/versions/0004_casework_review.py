"""casework review: reallocation reasons encrypted; a column for the keyed hash of the
mobile a named reporter gave for texts (set once the service has texted them an update
there, never from what they typed alone: no backfill); risk reviews past their date, on a
partial index of the reviews not yet alerted

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Only the stable primitive: app modules move, a migration must run the same for ever.
from intake.crypto import seal

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How reallocations stored the manager's reason before: in clear, in the event's data.
_OLD_PREFIX = "reallocated: "

#: The reviews not yet alerted for their date (an assessment clears the marker); the jobs'
#: query repeats it (intake.models.RISK_REVIEW_PENDING), so both databases use the index.
_RISK_REVIEW_PENDING = "risk_review_alerted_for IS NULL"
_events = sa.table("case_events", sa.column("id", sa.Integer()), sa.column("kind", sa.String()),
                   sa.column("text", sa.Text()), sa.column("data", sa.JSON()))


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, never a batch copy of the table (see downgrade).
    op.add_column("cases", sa.Column("contact_identity_hash", sa.String(length=64),
                                     nullable=True))
    op.create_index("ix_cases_contact_identity_hash", "cases", ["contact_identity_hash"])
    op.add_column("cases", sa.Column("risk_review_alerted_for", sa.Date(), nullable=True))
    op.create_index("ix_cases_risk_review_pending", "cases", ["status", "risk_review_due"],
                    sqlite_where=sa.text(_RISK_REVIEW_PENDING),
                    postgresql_where=sa.text(_RISK_REVIEW_PENDING))
    _seal_reallocation_reasons()


def _seal_reallocation_reasons() -> None:
    """Move each manager's reason for a reallocation out of the event's data (in clear)
    into its text, sealed under the data key as the models do."""
    # The data key is configured before migrations run (intake.crypto.configure in
    # create_app); it is needed only when there is something to seal.
    connection = op.get_bind()
    rows = connection.execute(sa.select(_events.c.id, _events.c.data)
                              .where(_events.c.kind == "allocated")).all()
    for event_id, data in rows:
        reason = (data or {}).get("reason")
        if not (isinstance(reason, str) and reason.startswith(_OLD_PREFIX)):
            continue
        connection.execute(_events.update().where(_events.c.id == event_id).values(
            text=seal(reason[len(_OLD_PREFIX):]), data={**data, "reason": "reallocated"}))


def downgrade() -> None:
    # The reasons stay encrypted in the events' text, where the older code shows them too.
    op.drop_index("ix_cases_risk_review_pending", table_name="cases")
    op.drop_index("ix_cases_contact_identity_hash", table_name="cases")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch copy of the table: on SQLite
    # with foreign keys on, dropping the old copy would delete every case's timeline.
    op.execute("ALTER TABLE cases DROP COLUMN risk_review_alerted_for")
    op.execute("ALTER TABLE cases DROP COLUMN contact_identity_hash")
