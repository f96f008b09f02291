"""outbox: rows a crash left uncertain are IN_DOUBT, no longer FAILED "interrupted"

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_INTERRUPTED = "interrupted: delivery uncertain"  # last_error that 0001-0002 code wrote


def upgrade() -> None:
    # Data only: the status column is a plain string. Rows that old code wrote off after a
    # crash are shown as in doubt, so an admin can send them again (`notice resend`).
    op.execute(
        "UPDATE outbox SET status = 'in_doubt' "
        f"WHERE status = 'failed' AND last_error = '{_INTERRUPTED}'"
    )


def downgrade() -> None:
    op.execute(
        f"UPDATE outbox SET status = 'failed', last_error = '{_INTERRUPTED}' "
        "WHERE status = 'in_doubt'"
    )
    # CLAIMED rows mean nothing to the old code: they had not been sent.
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'claimed'")
