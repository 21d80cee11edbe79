"""The points log in `ledger audit`: accounts.pointslog's tamper check (every logged entry against its
leaf, the log's roots against the ones anchored in PointsLogAnchor, every transaction balanced, no
entry left out of the log too long), each problem reported as a difference."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from accounts import pointslog
from chain.client import RegistryClient
from chain.deploy import Deployment


def audit_points_log(
    engine: Engine, client: RegistryClient, deployment: Deployment, add: Callable[[str, str, str], None]
) -> dict[str, int]:
    """Report each problem with `add(check, subject, detail)`; return what was checked. A
    deployment recorded before the anchor contract existed is checked without the chain, and says so
    if the log has anything the chain should vouch for."""
    anchors = pointslog.open_anchor(client, deployment) if deployment.points_log else None
    result = pointslog.audit(engine, anchors)
    for problem in result.problems:
        add("points log", "points ledger", problem)
    if anchors is None and result.checked.get("points log entries"):
        add(
            "points log",
            "PointsLogAnchor",
            f"the deployment on chain {deployment.chain_id} records no points log contract, so no root of the "
            "points log is checked against the chain; run `ledger deploy` to add it",
        )
    return result.checked
