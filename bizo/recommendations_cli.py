"""`bizo recommendations ...`: list, approve, reject, apply and roll back budget changes."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console

recommendations_app = typer.Typer(
    help="Budget recommendations: review, approve, reject, apply, roll back.",
    no_args_is_help=True,
)
console = Console()

_BY = typer.Option("--by", help="who decides (default: the logged-in user)")


def _who(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _fail(error: Exception) -> None:
    console.print(f"[red]{error}[/]")
    raise typer.Exit(1)


@recommendations_app.command("list")
def list_command(
    tenant: Annotated[str | None, typer.Option(help="one tenant only")] = None,
    status: Annotated[str | None, typer.Option(help="proposed, approved, applied, ...")] = None,
    limit: int = 50,
) -> None:
    """Newest first."""
    from warehouse import db
    from warehouse.agent_store import RecommendationError, list_recommendations

    try:
        with db.connect() as conn:
            found = list_recommendations(conn, tenant, status, limit)
    except RecommendationError as error:
        _fail(error)
    # Plain aligned text: it survives pipes, narrow terminals and copy and paste.
    rows = [("id", "tenant", "platform", "campaign", "current", "proposed", "exp./day",
             "conf.", "status", "approval", "by")]  # fmt: skip
    for r in found:
        rows.append(
            (
                str(r.recommendation_id),
                r.tenant_id,
                r.platform,
                r.campaign_id,
                f"{r.current_budget:,.2f} {r.currency}",
                f"{r.proposed_budget:,.2f}",
                f"{r.expected_revenue_change:+,.2f}",
                f"{r.confidence:.0%}",
                r.status,
                "needed" if r.requires_approval else "-",
                r.created_by,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@recommendations_app.command("show")
def show_command(recommendation_id: int) -> None:
    """One recommendation with its rationale and audit trail."""
    from warehouse import db
    from warehouse.agent_store import RecommendationError, audit_trail, get_recommendation

    try:
        with db.connect() as conn:
            rec = get_recommendation(conn, recommendation_id)
            trail = audit_trail(conn, recommendation_id)
    except RecommendationError as error:
        _fail(error)
    console.print(f"[bold]#{rec.recommendation_id}[/] {rec.tenant_id} {rec.status}")
    console.print(rec.rationale)
    for entry in trail:
        console.print(f"  {entry['at']:%Y-%m-%d %H:%M:%S} {entry['actor']}: {entry['action']}")


@recommendations_app.command("approve")
def approve_command(
    recommendation_id: int, by: Annotated[str | None, _BY] = None, note: str | None = None
) -> None:
    """Approve a proposal; the apply sensor (or `bizo recommendations apply`) pushes it."""
    from warehouse import db
    from warehouse.agent_store import RecommendationError, approve

    try:
        with db.connect() as conn:
            rec = approve(conn, recommendation_id, _who(by), note)
    except RecommendationError as error:
        _fail(error)
    console.print(f"approved #{rec.recommendation_id}: {rec.proposed_budget} {rec.currency}/day")


@recommendations_app.command("reject")
def reject_command(
    recommendation_id: int, by: Annotated[str | None, _BY] = None, note: str | None = None
) -> None:
    from warehouse import db
    from warehouse.agent_store import RecommendationError, reject

    try:
        with db.connect() as conn:
            rec = reject(conn, recommendation_id, _who(by), note)
    except RecommendationError as error:
        _fail(error)
    console.print(f"rejected #{rec.recommendation_id}")


@recommendations_app.command("apply")
def apply_command(
    tenant: Annotated[str | None, typer.Option(help="one tenant only")] = None,
    push: Annotated[bool, typer.Option("--push", help="really push (default: dry run)")] = False,
    by: Annotated[str | None, _BY] = None,
) -> None:
    """Push approved changes to the ad platforms. A dry run unless --push."""
    from agents.ops import apply_approved
    from connectors.budgets import ConnectorBudgets
    from warehouse import db
    from warehouse.crypto import CredentialBox
    from warehouse.settings import get_settings

    with db.connect() as conn:
        results = apply_approved(
            conn,
            CredentialBox.from_settings(get_settings()),
            dry_run=not push,
            tenant_id=tenant,
            actor=_who(by),
            platforms=ConnectorBudgets(),
        )
    for r in results:
        state = "applied" if r.applied else ("FAILED: " + r.error if r.error else "would apply")
        console.print(f"#{r.recommendation_id} {r.platform} {r.campaign_id} {r.budget}: {state}")
    if not results:
        console.print("nothing approved to apply")
    if any(r.error for r in results):
        raise typer.Exit(1)


@recommendations_app.command("rollback")
def rollback_command(
    recommendation_id: int, by: Annotated[str | None, _BY] = None, note: str | None = None
) -> None:
    """Put an applied change's previous budget back on the platform."""
    from agents.ops import rollback
    from connectors.budgets import ConnectorBudgets
    from warehouse import db
    from warehouse.agent_store import RecommendationError
    from warehouse.crypto import CredentialBox
    from warehouse.settings import get_settings

    try:
        with db.connect() as conn:
            rec = rollback(
                conn,
                CredentialBox.from_settings(get_settings()),
                recommendation_id,
                _who(by),
                note,
                platforms=ConnectorBudgets(),
            )
    except (RecommendationError, LookupError) as error:
        _fail(error)
    console.print(f"rolled back #{rec.recommendation_id}: {rec.current_budget} {rec.currency}/day")
