"""casework review: reallocation reasons encrypted

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.crypto import seal

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How reallocations stored the manager's reason before: in clear, in the event's data.
_OLD_PREFIX = "reallocated: "

_events = sa.table("case_events", sa.column("id", sa.Integer()), sa.column("kind", sa.String()),
                   sa.column("text", sa.Text()), sa.column("data", sa.JSON()))


def upgrade() -> None:
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
    pass
