"""initial schema: experiments, events, runs, samples, tokens

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("stages", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("report_dir", sa.Text, nullable=True),
        sa.Column("worker_pid", sa.Integer, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("cancel_requested", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=True),
    )
    op.create_index("ix_experiments_name", "experiments", ["name"])
    op.create_index("ix_experiments_status", "experiments", ["status"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.UniqueConstraint("experiment_id", "seq", name="uq_events_experiment_seq"),
    )
    op.create_index("ix_events_experiment_id", "events", ["experiment_id"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("run", sa.String(400), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("prompt", sa.String(200), nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("output_kind", sa.String(40), nullable=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.UniqueConstraint("experiment_id", "run", name="uq_runs_experiment_run"),
    )
    op.create_index("ix_runs_experiment_id", "runs", ["experiment_id"])
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("run", sa.String(400), nullable=False),
        sa.Column("sample_id", sa.String(400), nullable=False),
        sa.Column("question", sa.Text, nullable=True),
        sa.Column("reference", sa.Text, nullable=True),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("latency_s", sa.Float, nullable=True),
        sa.Column("image_path", sa.Text, nullable=True),
        sa.Column("doc_class", sa.String(200), nullable=True),
        sa.Column("question_type", sa.String(200), nullable=True),
        sa.Column("metadata", sa.JSON, nullable=False),
    )
    op.create_index("ix_samples_experiment_order", "samples", ["experiment_id", "id"])
    op.create_index("ix_samples_experiment_run", "samples", ["experiment_id", "run"])
    op.create_index("ix_samples_experiment_latency", "samples", ["experiment_id", "latency_s"])
    op.create_index("ix_samples_experiment_sample", "samples", ["experiment_id", "sample_id"])
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("tokens", "samples", "runs", "events", "experiments"):
        op.drop_table(table)
