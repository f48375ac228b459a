"""tokens get a scope; experiments record who launched and who cancelled them

Revision ID: 0003
Revises: 0002

Tokens made before this revision could do everything, so they become ``admin`` (revoke them
and create scoped ones with ``vlmhb-server token create --scope``); new tokens default to
``read``. ``experiments.launched_by`` / ``cancelled_by`` hold the owner of the token that
submitted / cancelled the experiment (NULL for earlier and imported experiments).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("scope", sa.String(20), nullable=False, server_default="admin"))
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("launched_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("cancelled_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("cancelled_by")
        batch.drop_column("launched_by")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("scope")
