"""The node's background jobs."""

from __future__ import annotations

from msnet.jobs import checkpoints, digests, federation, outbox, overlaps, peering, reports, saved
from msnet.jobs.runner import Job


def node_jobs() -> list[Job]:
    """What ``msnet serve`` (unless MSNET_WORKER=off) and ``msnet worker`` run."""
    return [
        outbox.Delivery(),
        outbox.PRUNING,
        *digests.DIGESTS,
        federation.Pull(),
        peering.DOCUMENTS,
        checkpoints.Checkpoints(),
        reports.Refresh(),
        reports.QUARTERLY,
        saved.SAVED_SEARCHES,
        overlaps.OVERLAP_ALERTS,
    ]
