"""ml.models: register a trained model, promote it, load the live one."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from ml.lead_model import MODEL_NAME, TrainedModel


def register_model(conn: psycopg.Connection, model: TrainedModel, status: str = "candidate") -> int:
    """Store the model as the next version of its name; returns the version."""
    if not model.metrics:
        raise ValueError("a model is registered with its evaluation metrics; evaluate it first")
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ml.models:{model.model_name}",))
    version = conn.execute(
        "SELECT coalesce(max(version), 0) + 1 FROM ml.models WHERE model_name = %s",
        (model.model_name,),
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO ml.models (model_name, version, status, features, metrics, weights) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (
            model.model_name,
            version,
            status,
            Jsonb(model.spec.to_json()),
            Jsonb(model.metrics),
            model.weights_bytes(),
        ),
    )
    model.version = version
    return version


def promote(conn: psycopg.Connection, version: int, model_name: str = MODEL_NAME) -> None:
    """Make `version` the live model; the previous live one is retired."""
    with conn.transaction():
        conn.execute(
            "UPDATE ml.models SET status = 'retired' WHERE model_name = %s AND status = 'live'",
            (model_name,),
        )
        updated = conn.execute(
            "UPDATE ml.models SET status = 'live', promoted_at = now() "
            "WHERE model_name = %s AND version = %s",
            (model_name, version),
        ).rowcount
        if updated != 1:
            raise LookupError(f"no {model_name} version {version} to promote")


def reject(conn: psycopg.Connection, version: int, model_name: str = MODEL_NAME) -> None:
    conn.execute(
        "UPDATE ml.models SET status = 'rejected' WHERE model_name = %s AND version = %s",
        (model_name, version),
    )


def load_model(
    conn: psycopg.Connection, version: int | None = None, model_name: str = MODEL_NAME
) -> TrainedModel | None:
    """A stored version, or the live one when `version` is None (None if there is none)."""
    row = conn.execute(
        "SELECT version, features, metrics, weights FROM ml.models WHERE model_name = %(name)s "
        "AND CASE WHEN %(version)s::integer IS NULL THEN status = 'live' "
        "ELSE version = %(version)s END",
        {"name": model_name, "version": version},
    ).fetchone()
    if row is None:
        return None
    stored_version, features, metrics, weights = row
    return TrainedModel.from_stored(features, bytes(weights), metrics, stored_version, model_name)
