"""A mixed workload of ten organisations' clients against one node, for minutes: latency per route,
throughput, errors, rows that cross organisations, and the serving process's memory (issue 17).

    .venv/bin/python bench/load.py [--duration 600] [--concurrency 16] [--experts 10000] [--warmup 30]
                                   [--restart-db-at SECONDS] [--flood] [--flood-period 60]
                                   [--flood-concurrency 16] [--refusal-delay SECONDS] [--json FILE]

Builds a fresh embedded PostgreSQL in a temporary directory (this script starts and stops it, so it
can restart it), loads the demo network (`msnet demo --no-serve`: ten organisations, each with a
client holding every scope), adds bench/search.py's synthetic network (50 more organisations, 2,000
offices with three capacities each, N experts; 10 % private, 6 % restricted), and through the API
each driven organisation's own experts and trainings, some private, some restricted to one other
organisation. Then it serves the node with `msnet serve` as a process of its own (log level
warning, MSNET_WORKER=off, tokens of an hour, MSNET_REQUEST_BURST_LIMIT=10000: the bench's clients
act for whole organisations at machine speed, and the per-client limit of 30 submissions and
withdrawals a minute would refuse them) and drives it with httpx, one client per organisation,
``--concurrency`` tasks (task i acts for organisation i mod 10):

- 80 % reads: expert, office, capacity and training searches with filters and facets, the inbox,
  the caller's requests, a request's matches, and reads by id of experts, offices, trainings and
  requests the organisation may see;
- 20 % writes: support requests through their lifecycle (drafted to another organisation's office,
  submitted, offered on by that organisation, the offer accepted, then closed or withdrawn; some
  withdrawn before any answer), expert edits and training edits with If-Match (each task edits its
  own records, so no 412 is expected), trainings created.

Every response body is checked for rows of another organisation the caller may not see: each
record (a JSON object with an ``id`` and an ``organisation``, and the entries of matches and
routing) is looked up in what the database held before the run plus what the bench made; a
request counts as visible to its requester, and to its addressees and the organisations a
restricted request names once its submission was sent; an offer to the requester and the responder.
Ids unknown when seen are checked at the end against the database. The report counts those rows
(0 expected).

Latencies count from ``--warmup`` seconds on; errors count from the start. The resident memory of
the serving process is sampled every ``--rss-interval`` seconds, with the load average (the
machine's other work competes for the same cores: say so beside any figure).

``--restart-db-at S``: S seconds in, the database is stopped (a fast shutdown: connections dropped)
and started again. Errors from the stop until the first success of a request sent after the
database was back are the outage's, reported apart: each should be a 503 with Retry-After; after
that, none.

``--flood``: a second process sends, from 127.0.0.2, bearer tokens that do not verify and wrong
client secrets to /oauth/token, ``--flood-concurrency`` at a time (default 16) as fast as it can, in alternate periods of ``--flood-period``
seconds (off, on, off, on …), so that the legitimate p95 with and without the flood come from the
same run. The audit log's auth.failed entries are counted at the end: msnet writes at most two a
key (source, reason, organisation, actor) an interval of MSNET_AUTH_FAILURE_WINDOW seconds, and their
counts add up to the failures. Once 127.0.0.2 is refused, its answers are held
MSNET_AUTH_REFUSAL_DELAY seconds (the tarpit): ``--refusal-delay S`` serves the node with that delay
(0: no tarpit, refused answers sent at once) instead of its default.

``--json FILE`` writes the summary as JSON too.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from msnet.db import migrate
from msnet.db.embedded import APP_ROLE, DATABASE, OWNER_ROLE, bootstrap, embedded_postgres, with_database
from msnet.taxonomy import service as taxonomy
from search import WORDS, add_capacities, load, node_env, wait_ready

MSNET = [sys.executable, "-m", "msnet"]
THEMES = sorted(taxonomy.theme_ids())
SERVICES = sorted(taxonomy.service_type_ids())
LANGUAGES = ["fr", "en", "ar", "es", "pt"]
REGIONS = ["africa", "europe", "americas", "asia", "eastern_africa", "western_africa"]
COUNTRIES = ["KE", "SD", "ML", "NE", "CF", "CO", "UA", "YE", "SO", "BF"]
TOKEN_TTL = 3600
FLOOD_SOURCE = "127.0.0.2"
#: Reads and writes, and their weights (80 / 20).
READS = {
    "search_experts": 20,
    "search_offices": 10,
    "search_capacities": 5,
    "search_trainings": 12,
    "inbox": 8,
    "requests": 5,
    "matches": 6,
    "read_expert": 6,
    "read_office": 3,
    "read_training": 3,
    "read_request": 2,
}
WRITES = {"lifecycle": 12, "edit_expert": 4, "create_training": 2, "edit_training": 2}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


class Database:
    """An embedded PostgreSQL server of the bench's own, which it can stop and start again."""

    def __init__(self, root: Path) -> None:
        self.server = embedded_postgres().get_server(root / "pgdata", cleanup_mode="delete")
        uri = self.server.get_uri()
        self.urls = asyncio.run(bootstrap(uri, DATABASE, OWNER_ROLE, APP_ROLE))
        self.superuser = with_database(uri, DATABASE)  # reads what row-level security hides

    def stop(self) -> None:
        """A fast shutdown, as an operator's restart or a failover does: connections are dropped."""
        postmaster = psutil.Process(self.server.get_pid())
        postmaster.send_signal(signal.SIGINT)
        postmaster.wait(timeout=60)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server.cleanup()


# --- what each organisation may see -----------------------------------------------------------


@dataclass(frozen=True)
class Record:
    owner: str
    sharing: str
    share_with: frozenset[str]
    kind: str

    def visible_to(self, org: str) -> bool:
        return (
            org == self.owner
            or self.sharing in ("network", "public")
            or (self.sharing == "restricted" and org in self.share_with)
        )


@dataclass
class Request:
    owner: str
    addressees: set[str]
    share_with: frozenset[str]
    submit_sent: float | None  # monotonic time the submission was sent; -inf: submitted before the run

    def visible_to(self, org: str, seen_at: float) -> bool:
        if org == self.owner:
            return True
        if self.submit_sent is None or self.submit_sent >= seen_at:
            return False  # a draft, as far as anyone could have read it
        return org in self.addressees or org in self.share_with


@dataclass(frozen=True)
class Offer:
    responder: str
    requester: str


RECORD_TABLES = ("offices", "capacities", "experts", "trainings", "publications", "processes")


async def read_truth(url: str) -> tuple[dict[str, Record], dict[str, Request], dict[str, Offer]]:
    """Every record's owner and sharing, every request's parties, every response's two parties, read
    as the superuser (row-level security does not apply to it)."""
    conn = await asyncpg.connect(url)
    try:
        slugs = {r["id"]: r["slug"] for r in await conn.fetch("SELECT id, slug FROM organisations")}
        records: dict[str, Record] = {}
        for table in RECORD_TABLES:
            query = f"SELECT id, organisation_id, sharing, share_with FROM {table}"  # noqa: S608 (a constant name)
            for r in await conn.fetch(query):
                records[str(r["id"])] = Record(
                    slugs[r["organisation_id"]],
                    r["sharing"],
                    frozenset(slugs[i] for i in r["share_with"] or ()),
                    table,
                )
        requests = {
            str(r["id"]): Request(
                slugs[r["organisation_id"]],
                {slugs[i] for i in r["addressee_orgs"]},
                frozenset(slugs[i] for i in r["share_with"] or ())
                if r["sharing"] == "restricted"
                else frozenset(),
                None if r["state"] == "draft" else -math.inf,
            )
            for r in await conn.fetch(
                "SELECT id, organisation_id, state, sharing, share_with, addressee_orgs FROM requests"
            )
        }
        offers = {
            str(r["id"]): Offer(slugs[r["organisation_id"]], slugs[r["requester_id"]])
            for r in await conn.fetch("SELECT id, organisation_id, requester_id FROM request_responses")
        }
        return records, requests, offers
    finally:
        await conn.close()


@dataclass
class Leak:
    route: str
    viewer: str
    id: str
    why: str


class Checker:
    """Looks at every row of every answer for what its caller may not see."""

    def __init__(
        self, records: dict[str, Record], requests: dict[str, Request], offers: dict[str, Offer]
    ) -> None:
        self.records, self.requests, self.offers = records, requests, offers
        self.rows = 0
        self.leaks: list[Leak] = []
        self.unknown: dict[tuple[str, str, str], str] = {}  # (kind, id, viewer) -> route, checked at the end

    def check(self, route: str, viewer: str, body: Any, seen_at: float) -> None:
        if isinstance(body, list):
            for item in body:
                self.check(route, viewer, item, seen_at)
        elif isinstance(body, dict):
            self._row(route, viewer, body, seen_at)
            for value in body.values():
                if isinstance(value, dict | list):
                    self.check(route, viewer, value, seen_at)

    def _row(self, route: str, viewer: str, row: dict[str, Any], seen_at: float) -> None:
        if "id" in row and "allowed_transitions" in row:
            self.rows += 1
            request = self.requests.get(row["id"])
            if request is None:
                self.unknown[("request", row["id"], viewer)] = route
            elif not request.visible_to(viewer, seen_at):
                self.leaks.append(Leak(route, viewer, row["id"], f"request of {request.owner}"))
        elif "id" in row and "request_id" in row and "kind" in row and "status" in row:
            self.rows += 1
            offer = self.offers.get(row["id"])
            if offer is None:
                self.unknown[("offer", row["id"], viewer)] = route
            elif viewer not in (offer.responder, offer.requester):
                self.leaks.append(Leak(route, viewer, row["id"], f"response of {offer.responder}"))
        elif "id" in row and "organisation" in row:
            self._record(route, viewer, row["id"])
        if "score" in row:  # an entry of matches or routing: the office, capacity or expert it names
            for key in ("office_id", "capacity_id", "expert_id"):
                if isinstance(row.get(key), str):
                    self._record(route, viewer, row[key])

    def _record(self, route: str, viewer: str, record_id: str) -> None:
        self.rows += 1
        record = self.records.get(record_id)
        if record is None:
            self.unknown[("record", record_id, viewer)] = route
        elif not record.visible_to(viewer):
            self.leaks.append(
                Leak(route, viewer, record_id, f"{record.kind} of {record.owner}, {record.sharing}")
            )

    def settle(
        self, records: dict[str, Record], requests: dict[str, Request], offers: dict[str, Offer]
    ) -> int:
        """Check the ids unknown when seen against the database at the end (a request by its final
        parties); the number still unknown (none expected)."""
        unresolved = 0
        for (kind, id_, viewer), route in self.unknown.items():
            found: Any = {"record": records, "request": requests, "offer": offers}[kind].get(id_)
            if found is None:
                unresolved += 1
            elif kind == "record" and not found.visible_to(viewer):
                self.leaks.append(Leak(route, viewer, id_, f"{found.kind} of {found.owner}, {found.sharing}"))
            elif kind == "request" and not (
                found.submit_sent is not None and found.visible_to(viewer, math.inf)
            ):
                if viewer != found.owner:
                    self.leaks.append(Leak(route, viewer, id_, f"request of {found.owner}"))
            elif kind == "offer" and viewer not in (found.responder, found.requester):
                self.leaks.append(Leak(route, viewer, id_, f"response of {found.responder}"))
        return unresolved


# --- the driven organisations ---------------------------------------------------------------------


@dataclass
class Org:
    slug: str
    client_id: str
    secret: str
    http: httpx.AsyncClient
    token_at: float = -math.inf  # none yet (time.monotonic() may be small: the machine just started)
    offices: list[str] = field(default_factory=list)  # its own
    addressable: list[str] = field(default_factory=list)  # its own that others may see
    experts: list[str] = field(default_factory=list)  # its own, to offer
    to_answer: deque[tuple[str, str, dict[str, str]]] = field(
        default_factory=deque
    )  # request, office, period
    offers: deque[tuple[str, str]] = field(default_factory=deque)  # request, response to accept
    mine: list[str] = field(default_factory=list)  # its requests, for matches and reads
    visible: dict[str, list[str]] = field(default_factory=dict)  # kind -> ids it may read

    async def refresh(self, base: str) -> None:
        if time.monotonic() - self.token_at < TOKEN_TTL - 300:
            return
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            answer = await http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(self.client_id, self.secret)
            )
        answer.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        self.token_at = time.monotonic()


@dataclass
class Task:
    org: Org
    experts: list[str] = field(default_factory=list)  # made by this task: only it edits them
    trainings: list[str] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)  # not yet answered: may be withdrawn
    accepted: list[str] = field(default_factory=list)  # to close or withdraw


@dataclass
class Sample:
    route: str
    status: int  # 0: no answer (transport error)
    started: float
    ended: float
    retry_after: bool
    detail: str = ""


class Run:
    """The workload's shared state and what it measured."""

    def __init__(
        self, base: str, orgs: list[Org], checker: Checker, processes: list[str], args: argparse.Namespace
    ):
        self.base, self.orgs, self.checker, self.processes, self.args = base, orgs, checker, processes, args
        self.by_slug = {o.slug: o for o in orgs}
        self.samples: list[Sample] = []
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.duration
        self.restart: dict[str, float] = {}
        self.flood_on: list[tuple[float, float]] = []
        self.random = random.Random(17)
        self.tasks: list[Task] = []
        self.office_of: dict[str, str] = {}  # a request the bench made: the office it is addressed to
        self.period_of: dict[str, dict[str, str]] = {}
        self.ended = self.t0
        self.audit_growth = 0
        self.unresolved = 0
        self.cpu: dict[str, float] = {}

    async def call(
        self, org: Org, route: str, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            await org.refresh(self.base)
            answer = await org.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.samples.append(Sample(route, 0, started, time.monotonic(), False, type(exc).__name__))
            return None
        ended = time.monotonic()
        detail = "" if answer.status_code in ok else answer.text[:300]
        self.samples.append(
            Sample(route, answer.status_code, started, ended, "retry-after" in answer.headers, detail)
        )
        if answer.status_code not in ok:
            return None
        if answer.headers.get("content-type", "").startswith("application/json"):
            body = answer.json()
            self.checker.check(route, org.slug, body, ended)
        return answer

    # reads

    async def search_experts(self, task: Task) -> None:
        params: dict[str, Any] = {"limit": 20, "language": self.random.choice(LANGUAGES)}
        if self.random.random() < 0.6:
            params["q"] = self.random.choice(WORDS)
        if self.random.random() < 0.5:
            params["theme"] = self.random.choice(THEMES)
        if self.random.random() < 0.5:
            params["region"] = self.random.choice(REGIONS[:4])
        await self.call(task.org, "GET /v1/experts (search)", "GET", "/v1/experts", params=params)

    async def search_offices(self, task: Task) -> None:
        params: dict[str, Any] = {"limit": 20, "region": self.random.choice(REGIONS)}
        if self.random.random() < 0.5:
            params["q"] = self.random.choice(WORDS)
        if self.random.random() < 0.5:
            params["language"] = self.random.choice(LANGUAGES[:2])
        await self.call(task.org, "GET /v1/offices (search)", "GET", "/v1/offices", params=params)

    async def search_capacities(self, task: Task) -> None:
        params = {
            "limit": 20,
            "service_type": self.random.choice(SERVICES),
            "region": self.random.choice(REGIONS),
        }
        await self.call(task.org, "GET /v1/capacities (search)", "GET", "/v1/capacities", params=params)

    async def search_trainings(self, task: Task) -> None:
        params: dict[str, Any] = {"limit": 20}
        if self.random.random() < 0.5:
            params["theme"] = self.random.choice(THEMES)
        if self.random.random() < 0.5:
            params["open"] = "true"
        if self.random.random() < 0.3:
            params["q"] = self.random.choice(["mediation", "dialogue", "ceasefire", "gender"])
        await self.call(task.org, "GET /v1/trainings (search)", "GET", "/v1/trainings", params=params)

    async def inbox(self, task: Task) -> None:
        await self.call(task.org, "GET /v1/inbox", "GET", "/v1/inbox", params={"limit": 20})

    async def requests(self, task: Task) -> None:
        await self.call(
            task.org, "GET /v1/requests", "GET", "/v1/requests", params={"role": "requester", "limit": 20}
        )

    async def matches(self, task: Task) -> None:
        if not task.org.mine:
            return await self.requests(task)
        request_id = self.random.choice(task.org.mine[-50:])
        await self.call(
            task.org, "GET /v1/requests/{id}/matches", "GET", f"/v1/requests/{request_id}/matches"
        )

    async def _read(self, task: Task, kind: str, path: str) -> None:
        ids = task.org.visible[kind]
        await self.call(task.org, f"GET /v1/{path}/{{id}}", "GET", f"/v1/{path}/{self.random.choice(ids)}")

    async def read_expert(self, task: Task) -> None:
        await self._read(task, "experts", "experts")

    async def read_office(self, task: Task) -> None:
        await self._read(task, "offices", "offices")

    async def read_training(self, task: Task) -> None:
        await self._read(task, "trainings", "trainings")

    async def read_request(self, task: Task) -> None:
        if not task.org.mine:
            return await self.inbox(task)
        request_id = self.random.choice(task.org.mine[-50:])
        await self.call(task.org, "GET /v1/requests/{id}", "GET", f"/v1/requests/{request_id}")

    # writes

    async def lifecycle(self, task: Task) -> None:
        """The next step of a request's life that this organisation can take."""
        org, rnd = task.org, self.random
        if org.offers:
            request_id, response_id = org.offers.popleft()
            if await self.call(
                org,
                "POST /v1/requests/{id}/responses/{rid}/accept",
                "POST",
                f"/v1/requests/{request_id}/responses/{response_id}/accept",
            ):
                task.accepted.append(request_id)
        elif org.to_answer:
            request_id, office_id, period = org.to_answer.popleft()
            body = {
                "office_id": office_id,
                "kind": "offer",
                "experts": rnd.sample(org.experts, 2),
                "period": period,
                "note": "Two experts can join the team for the whole period.",
            }
            answer = await self.call(
                org,
                "POST /v1/requests/{id}/responses",
                "POST",
                f"/v1/requests/{request_id}/responses",
                ok=(201,),
                json=body,
            )
            if answer:
                response = answer.json()
                self.checker.offers[response["id"]] = Offer(org.slug, self.checker.requests[request_id].owner)
                requester = self.by_slug[self.checker.requests[request_id].owner]
                requester.offers.append((request_id, response["id"]))
                self._forget(requester, request_id)
        elif task.accepted:
            request_id = task.accepted.pop(0)
            if rnd.random() < 0.5:
                outcome = {"delivered": True, "modality": "remote", "note": "Delivered by the bench."}
                await self.call(
                    org,
                    "POST /v1/requests/{id}/close",
                    "POST",
                    f"/v1/requests/{request_id}/close",
                    json=outcome,
                )
            else:
                await self.call(
                    org, "POST /v1/requests/{id}/withdraw", "POST", f"/v1/requests/{request_id}/withdraw"
                )
        elif task.submitted and (len(task.submitted) > 3 or rnd.random() < 0.1):
            request_id = task.submitted.pop(0)
            if self._unanswered(request_id):  # its addressee has not taken it up: withdraw it
                await self.call(
                    org, "POST /v1/requests/{id}/withdraw", "POST", f"/v1/requests/{request_id}/withdraw"
                )
        elif task.drafts:
            request_id = task.drafts.pop(0)
            self.checker.requests[request_id].submit_sent = time.monotonic()
            if await self.call(
                org, "POST /v1/requests/{id}/submit", "POST", f"/v1/requests/{request_id}/submit"
            ):
                request = self.checker.requests[request_id]
                addressee = self.by_slug[next(iter(request.addressees))]
                addressee.to_answer.append(
                    (request_id, self.office_of[request_id], self.period_of[request_id])
                )
                task.submitted.append(request_id)
            else:
                task.drafts.append(request_id)
        else:
            await self._draft(task)

    def _unanswered(self, request_id: str) -> bool:
        for org in self.orgs:
            for entry in org.to_answer:
                if entry[0] == request_id:
                    org.to_answer.remove(entry)
                    return True
        return False

    def _forget(self, requester: Org, request_id: str) -> None:
        """An answered request is no longer one its requester may withdraw unanswered."""
        for task in self.tasks:
            if task.org is requester and request_id in task.submitted:
                task.submitted.remove(request_id)

    async def _draft(self, task: Task) -> None:
        org, rnd = task.org, self.random
        addressee = rnd.choice([o for o in self.orgs if o is not org])
        office = rnd.choice(addressee.addressable)
        start = f"2027-{rnd.randint(1, 9):02d}-{rnd.randint(1, 28):02d}"
        end = f"2027-{int(start[5:7]) + rnd.randint(1, 3):02d}-{rnd.randint(1, 28):02d}"
        restricted = rnd.random() < 0.25
        third = rnd.choice([o.slug for o in self.orgs if o not in (org, addressee)])
        body: dict[str, Any] = {
            "process_id": rnd.choice(self.processes),
            "office_id": rnd.choice(org.offices),
            "title": f"Support on {rnd.choice(THEMES).replace('_', ' ')}",
            "description": "Drafted by bench/load.py.",
            "service_types": rnd.sample(SERVICES, 2),
            "themes": rnd.sample(THEMES, 2),
            "period": {"start": start, "end": end},
            "urgency": rnd.choice(["routine", "urgent"]),
            "languages": rnd.sample(LANGUAGES[:3], 1),
            "mandate": {"type": "organisation_decision", "reference": "Bench"},
            "addressees": [office],
            "sharing": "restricted" if restricted else "private",
            "share_with": [third] if restricted else [],
        }
        answer = await self.call(org, "POST /v1/requests", "POST", "/v1/requests", ok=(201,), json=body)
        if answer:
            request_id = answer.json()["id"]
            self.checker.requests[request_id] = Request(
                org.slug, {addressee.slug}, frozenset(body["share_with"]), None
            )
            self.office_of[request_id] = office
            self.period_of[request_id] = body["period"]
            org.mine.append(request_id)
            task.drafts.append(request_id)

    async def _edit(self, task: Task, kind: str, ids: list[str], change: dict[str, Any]) -> None:
        record_id = self.random.choice(ids)
        read = await self.call(task.org, f"GET /v1/{kind}/{{id}}", "GET", f"/v1/{kind}/{record_id}")
        if read:
            await self.call(
                task.org,
                f"PATCH /v1/{kind}/{{id}}",
                "PATCH",
                f"/v1/{kind}/{record_id}",
                json=change,
                headers={"If-Match": read.headers["etag"]},
            )

    async def edit_expert(self, task: Task) -> None:
        bio = f"Mediation adviser; {self.random.choice(WORDS)} and {self.random.choice(WORDS)} (edit {time.time():.0f})."
        await self._edit(task, "experts", task.experts, {"bio": bio})

    async def edit_training(self, task: Task) -> None:
        await self._edit(task, "trainings", task.trainings, {"seats": self.random.randint(8, 40)})

    async def create_training(self, task: Task) -> None:
        training_id = await make_training(self, task, self.random)
        if training_id:
            task.trainings.append(training_id)

    async def worker(self, task: Task) -> None:
        reads, read_weights = list(READS), list(READS.values())
        writes, write_weights = list(WRITES), list(WRITES.values())
        total = sum(read_weights) + sum(write_weights)
        while time.monotonic() < self.deadline:
            if self.random.random() < sum(read_weights) / total:
                name = self.random.choices(reads, read_weights)[0]
            else:
                name = self.random.choices(writes, write_weights)[0]
            await getattr(self, name)(task)


async def make_training(run: Run, task: Task, rnd: random.Random) -> str | None:
    """A training of ``task``'s organisation: private, restricted to one other, or network."""
    month, day = rnd.randint(2, 11), rnd.randint(1, 25)
    sharing = rnd.choice(["private", "restricted", "network", "network"])
    others = [o.slug for o in run.orgs if o is not task.org]
    body = {
        "title": f"{rnd.choice(['Mediation', 'Dialogue', 'Ceasefire', 'Inclusion'])} course {rnd.randint(1, 10**6)}",
        "kind": rnd.choice(["course", "workshop", "webinar"]),
        "format": "in_person",
        "city": "Nairobi",
        "country": "KE",
        "start": f"2027-{month:02d}-{day:02d}T09:00:00+03:00",
        "end": f"2027-{month:02d}-{day + 2:02d}T17:00:00+03:00",
        "time_zone": "Africa/Nairobi",
        "description": "Process design, negotiation and ceasefire arrangements.",
        "themes": rnd.sample(THEMES, 2),
        "languages": rnd.sample(LANGUAGES[:2], 1),
        "seats": 20,
        "apply_email": "training@example.org",
        "sharing": sharing,
        "share_with": [rnd.choice(others)] if sharing == "restricted" else [],
    }
    answer = await run.call(task.org, "POST /v1/trainings", "POST", "/v1/trainings", ok=(201,), json=body)
    if not answer:
        return None
    training_id = answer.json()["id"]
    run.checker.records[training_id] = Record(
        task.org.slug, sharing, frozenset(body["share_with"]), "trainings"
    )
    return training_id


async def make_expert(run: Run, task: Task, rnd: random.Random, n: int) -> str | None:
    sharing = ["private", "restricted", "network"][n % 3]
    others = [o.slug for o in run.orgs if o is not task.org]
    body = {
        "name": f"Bench expert {task.org.slug} {n} {rnd.randint(1, 10**6)}",
        "bio": f"Mediation adviser on {rnd.choice(WORDS)}.",
        "seniority": rnd.choice(["mid", "senior"]),
        "expertise": [{"kind": "theme", "term": t, "level": "advanced"} for t in rnd.sample(THEMES, 2)],
        "languages": [{"code": c} for c in rnd.sample(LANGUAGES[:3], 2)],
        "availability": [{"start": "2027-01-01", "end": "2027-12-31"}],
        "sharing": sharing,
        "share_with": [rnd.choice(others)] if sharing == "restricted" else [],
    }
    answer = await run.call(task.org, "POST /v1/experts", "POST", "/v1/experts", ok=(201,), json=body)
    if not answer:
        return None
    expert_id = answer.json()["id"]
    run.checker.records[expert_id] = Record(task.org.slug, sharing, frozenset(body["share_with"]), "experts")
    return expert_id


async def prepare(run: Run, tasks: list[Task]) -> None:
    """Each organisation's offices, experts and what it may read; each task's own experts and trainings."""
    records = run.checker.records
    for org in run.orgs:
        org.offices = [i for i, r in records.items() if r.kind == "offices" and r.owner == org.slug]
        org.addressable = [i for i in org.offices if records[i].sharing in ("network", "public")]
        org.experts = [i for i, r in records.items() if r.kind == "experts" and r.owner == org.slug]
        for kind in ("experts", "offices", "trainings"):
            org.visible[kind] = [i for i, r in records.items() if r.kind == kind and r.visible_to(org.slug)]
    rnd = random.Random(7)
    for n, task in enumerate(tasks):
        for k in range(3):
            expert_id = await make_expert(run, task, rnd, n + k)
            assert expert_id, "the bench could not create its experts"
            task.experts.append(expert_id)
        for _ in range(2):
            training_id = await make_training(run, task, rnd)
            assert training_id, "the bench could not create its trainings"
            task.trainings.append(training_id)
    for task in tasks:
        task.org.visible["experts"] += [i for i in task.experts if records[i].visible_to(task.org.slug)]
    run.samples.clear()


# --- memory, load and the database restart -----------------------------------------------------------


async def sample_memory(run: Run, pid: int, every: float, out: list[dict[str, float]]) -> None:
    process = psutil.Process(pid)
    while time.monotonic() < run.deadline:
        try:
            rss = sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
        except psutil.NoSuchProcess:
            return
        out.append({"t": time.monotonic() - run.t0, "rss_mb": rss / 2**20, "load1": os.getloadavg()[0]})
        await asyncio.sleep(every)


async def restart_database(run: Run, database: Database, at: float) -> None:
    await asyncio.sleep(max(0.0, run.t0 + at - time.monotonic()))
    run.restart["stop"] = time.monotonic()
    await asyncio.to_thread(database.stop)
    run.restart["stopped"] = time.monotonic()
    await asyncio.to_thread(database.start)
    run.restart["started"] = time.monotonic()


# --- the flood ------------------------------------------------------------------------------------


def flood_process(base: str, client_id: str, tasks: int, on: Any, stop: Any, counts: Any) -> None:
    """Run in a process of its own: bogus bearer tokens and wrong client secrets from FLOOD_SOURCE,
    as fast as possible while ``on`` is set; statuses counted in ``counts`` (index: status // 100,
    0 for no answer; the last slot counts 429s)."""

    async def flood() -> None:
        transport = httpx.AsyncHTTPTransport(local_address=FLOOD_SOURCE)
        async with httpx.AsyncClient(base_url=base, transport=transport, timeout=30) as http:
            rnd = random.Random(3)

            async def one() -> None:
                while not stop.is_set():
                    if not on.is_set():
                        await asyncio.sleep(0.05)
                        continue
                    try:
                        if rnd.random() < 0.7:
                            junk = base64.urlsafe_b64encode(rnd.randbytes(rnd.choice([24, 300]))).decode()
                            answer = await http.get(
                                "/v1/experts",
                                params={"q": "mediation"},
                                headers={"Authorization": f"Bearer {junk}"},
                            )
                        else:
                            who = client_id if rnd.random() < 0.5 else f"un.{rnd.randbytes(8).hex()}"
                            answer = await http.post(
                                "/oauth/token",
                                data={"grant_type": "client_credentials"},
                                auth=(who, "mss_wrong"),
                            )
                        status = answer.status_code
                    except httpx.HTTPError:
                        status = 0
                    with counts.get_lock():
                        counts[status // 100] += 1
                        if status == 429:
                            counts[6] += 1

            await asyncio.gather(*(one() for _ in range(tasks)))

    asyncio.run(flood())


async def flood_phases(run: Run, on: Any, period: float, warmup: float) -> None:
    """Off for the warm-up and the first period, then on and off in turn."""
    await asyncio.sleep(warmup + period)
    while time.monotonic() < run.deadline:
        on.set()
        started = time.monotonic()
        await asyncio.sleep(max(0.0, min(period, run.deadline - started)))
        on.clear()
        run.flood_on.append((started, time.monotonic()))
        await asyncio.sleep(period)


async def audit_failures(url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(
            "SELECT source::text AS source, organisation_id, actor, resource_id FROM audit_log WHERE action = 'auth.failed'"
        )
    finally:
        await conn.close()


async def audit_size(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM audit_log")
    finally:
        await conn.close()


# --- the run ---------------------------------------------------------------------------------------


async def drive(
    base: str,
    credentials: dict[str, dict[str, str]],
    database: Database,
    serve_pid: int,
    args: argparse.Namespace,
    flood_on: Any,
) -> tuple[Run, list[dict[str, float]]]:
    records, requests, offers = await read_truth(database.superuser)
    checker = Checker(records, requests, offers)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    orgs = [
        Org(
            slug,
            c["client_id"],
            c["client_secret"],
            httpx.AsyncClient(base_url=base, timeout=30, limits=limits),
        )
        for slug, c in sorted(credentials.items())
    ]
    processes = [
        i for i, r in records.items() if r.kind == "processes" and r.sharing in ("network", "public")
    ]
    run = Run(base, orgs, checker, processes, args)
    tasks = [Task(orgs[n % len(orgs)]) for n in range(args.concurrency)]
    run.tasks = tasks
    print(f"preparing: {len(tasks)} tasks, each with its own experts and trainings …", flush=True)
    await prepare(run, tasks)
    memory: list[dict[str, float]] = []
    audit_before = await audit_size(database.superuser)
    serving, driving = psutil.Process(serve_pid), psutil.Process()
    cpu_before = sum(serving.cpu_times()[:2]), sum(driving.cpu_times()[:2])
    run.t0 = time.monotonic()
    run.deadline = run.t0 + args.duration
    background = [asyncio.create_task(sample_memory(run, serve_pid, args.rss_interval, memory))]
    if args.restart_db_at is not None:
        background.append(asyncio.create_task(restart_database(run, database, args.restart_db_at)))
    if args.flood:
        background.append(asyncio.create_task(flood_phases(run, flood_on, args.flood_period, args.warmup)))
    print(f"driving for {args.duration} s …", flush=True)
    await asyncio.gather(*(run.worker(task) for task in tasks))
    for job in background:
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
    flood_on.clear()
    run.ended = time.monotonic()
    run.cpu = {  # cores used over the run: the server's, and this load generator's
        "serve": (sum(serving.cpu_times()[:2]) - cpu_before[0]) / (run.ended - run.t0),
        "bench": (sum(driving.cpu_times()[:2]) - cpu_before[1]) / (run.ended - run.t0),
    }
    run.audit_growth = await audit_size(database.superuser) - audit_before
    for org in orgs:
        await org.http.aclose()
    return run, memory


def summarise(run: Run, memory: list[dict[str, float]], args: argparse.Namespace) -> dict[str, Any]:
    warm = run.t0 + args.warmup
    restart = run.restart
    recovered = None
    if "started" in restart:
        recovered = min(
            (s.ended for s in run.samples if s.started >= restart["started"] and 200 <= s.status < 300),
            default=math.inf,
        )
    outage_errors: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    error_routes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for s in run.samples:
        if 200 <= s.status < 300:
            continue
        label = f"{s.status or 'no answer'}" + (" with Retry-After" if s.retry_after else "")
        if recovered is not None and s.ended >= restart["stop"] and s.started <= recovered:
            outage_errors[label] += 1
        else:
            errors[label] += 1
            error_routes[f"{s.route} {label}"] += 1
            examples.setdefault(label, s.detail)
    measured = [s for s in run.samples if s.started >= warm and 200 <= s.status < 300]
    by_route: dict[str, list[float]] = defaultdict(list)
    for s in measured:
        by_route[s.route].append((s.ended - s.started) * 1000)
    seconds = run.ended - warm
    routes = {
        route: {
            "count": len(ms),
            "p50_ms": percentile(ms, 50),
            "p95_ms": percentile(ms, 95),
            "p99_ms": percentile(ms, 99),
        }
        for route, ms in sorted(by_route.items(), key=lambda kv: -len(kv[1]))
    }
    after = [m for m in memory if m["t"] >= args.warmup] or memory
    rss = [m["rss_mb"] for m in after]
    summary: dict[str, Any] = {
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "concurrency": args.concurrency,
        "organisations": len(run.orgs),
        "requests": len(run.samples),
        "measured_requests": len(measured),
        "throughput_rps": len(measured) / seconds if seconds > 0 else math.nan,
        "routes": routes,
        "errors": dict(errors),
        "error_routes": dict(error_routes),
        "error_examples": examples,
        "cross_organisation_rows": len(run.checker.leaks),
        "leaks": [vars(leak) for leak in run.checker.leaks[:20]],
        "rows_checked": run.checker.rows,
        "ids_unknown_at_the_end": run.unresolved,
        "audit_entries_added": run.audit_growth,
        "rss": {
            "first_after_warmup_mb": rss[0] if rss else math.nan,
            "last_mb": rss[-1] if rss else math.nan,
            "max_mb": max(rss) if rss else math.nan,
            "flat_within_10_percent": bool(rss) and max(rss) <= 1.1 * rss[0] and rss[-1] <= 1.1 * rss[0],
            "samples": len(rss),
        },
        "cpu_cores_used": run.cpu,
        "load_average_1min": {
            "min": min(m["load1"] for m in memory) if memory else math.nan,
            "mean": sum(m["load1"] for m in memory) / len(memory) if memory else math.nan,
            "max": max(m["load1"] for m in memory) if memory else math.nan,
            "cores": os.cpu_count(),
        },
    }
    if "started" in restart:
        summary["restart"] = {
            "at_s": restart["stop"] - run.t0,
            "stopping_s": restart["stopped"] - restart["stop"],
            "down_s": restart["started"] - restart["stop"],
            "recovered_after_start_s": recovered - restart["started"] if recovered is not None else None,
            "outage_errors": dict(outage_errors),
            "outage_errors_all_503_with_retry_after": set(outage_errors) <= {"503 with Retry-After"},
            "errors_outside_the_outage": sum(errors.values()),
        }
    if args.flood:

        def flooded(s: Sample) -> bool:
            return any(a <= s.started < b for a, b in run.flood_on)

        on = [(s.ended - s.started) * 1000 for s in measured if flooded(s)]
        off = [(s.ended - s.started) * 1000 for s in measured if not flooded(s)]
        on_seconds = sum(b - a for a, b in run.flood_on)
        summary["flood"] = {
            "periods_on": len(run.flood_on),
            "seconds_on": on_seconds,
            "legitimate_p95_ms_without": percentile(off, 95),
            "legitimate_p95_ms_with": percentile(on, 95),
            "ratio": percentile(on, 95) / percentile(off, 95) if off and on else math.nan,
            "legitimate_rps_without": len(off) / max(seconds - on_seconds, 1e-9),
            "legitimate_rps_with": len(on) / max(on_seconds, 1e-9),
        }
    return summary


def report_flood(
    summary: dict[str, Any], counts: list[int], failures: list[asyncpg.Record], window: int
) -> None:
    """The flood's attempts and what the audit log kept of them."""
    if "flood" not in summary:
        return
    keys: Counter[tuple[Any, ...]] = Counter()
    counted = 0
    for row in failures:
        fields = dict(part.split("=", 1) for part in row["resource_id"].split())
        keys[(row["source"], row["organisation_id"], row["actor"], fields["reason"], fields["interval"])] += 1
        if (row["source"] or "").split("/")[0] == FLOOD_SOURCE:
            counted += int(fields["count"])
    from_flood = [n for key, n in keys.items() if (key[0] or "").split("/")[0] == FLOOD_SOURCE]
    summary["flood"].update(
        {
            "attempts": sum(counts[:6]),
            "answers": {
                "no answer": counts[0],
                "2xx": counts[2],
                "4xx": counts[4],
                "5xx": counts[5],
                "429": counts[6],
            },
            "auth_failed_entries_from_flood_source": sum(from_flood),
            "failures_counted_in_those_entries": counted,
            "max_entries_per_key_and_interval": max(from_flood, default=0),
            "keys_and_intervals": len(from_flood),
            "auth_failure_window_s": window,
        }
    )


def print_summary(s: dict[str, Any]) -> None:
    print(
        f"\n{s['organisations']} organisations, {s['concurrency']} concurrent clients, {s['duration_s']} s "
        f"({s['warmup_s']} s of warm-up not timed); load average (1 min) during the run "
        f"{s['load_average_1min']['min']:.1f}–{s['load_average_1min']['max']:.1f} "
        f"(mean {s['load_average_1min']['mean']:.1f}) on {s['load_average_1min']['cores']} cores"
    )
    print(f"\n{'route':48} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for route, r in s["routes"].items():
        print(f"{route:48} {r['count']:7d} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['p99_ms']:8.1f}")
    print(
        f"\nCPU used (cores): msnet serve {s['cpu_cores_used']['serve']:.2f}, "
        f"this load generator {s['cpu_cores_used']['bench']:.2f} (PostgreSQL and the other work not shown)"
    )
    print(
        f"throughput: {s['throughput_rps']:.1f} req/s ({s['measured_requests']} answered 2xx after the warm-up)"
    )
    print(f"errors: {sum(s['errors'].values())} {dict(s['errors']) or ''}")
    for route, n in s["error_routes"].items():
        print(f"  {route}: {n}")
    for label, detail in s["error_examples"].items():
        print(f"  e.g. {label}: {detail[:200]}")
    print(
        f"cross-organisation rows: {s['cross_organisation_rows']} (of {s['rows_checked']} rows checked; "
        f"{s['ids_unknown_at_the_end']} ids unknown even at the end)"
    )
    for leak in s["leaks"]:
        print(f"  {leak}")
    rss = s["rss"]
    print(
        f"serve RSS: {rss['first_after_warmup_mb']:.0f} MB after warm-up, {rss['last_mb']:.0f} MB last, "
        f"{rss['max_mb']:.0f} MB max ({rss['samples']} samples): "
        + ("flat within 10 %" if rss["flat_within_10_percent"] else "NOT flat within 10 %")
    )
    print(f"audit entries added during the run: {s['audit_entries_added']}")
    if "restart" in s:
        r = s["restart"]
        print(
            f"database restart at {r['at_s']:.0f} s: down {r['down_s']:.1f} s, first success "
            f"{r['recovered_after_start_s']:.1f} s after it was back; outage errors {r['outage_errors']} "
            f"({'all 503 with Retry-After' if r['outage_errors_all_503_with_retry_after'] else 'NOT all 503 with Retry-After'}); "
            f"errors outside the outage: {r['errors_outside_the_outage']}"
        )
    if "flood" in s:
        f = s["flood"]
        print(
            f"flood from {FLOOD_SOURCE} ({f['periods_on']} periods, {f['seconds_on']:.0f} s on): "
            f"{f['attempts']} attempts ({f['attempts'] / max(f['seconds_on'], 1e-9):.0f} a second), "
            f"answers {f['answers']}"
        )
        print(
            f"  legitimate p95 {f['legitimate_p95_ms_without']:.1f} ms without, {f['legitimate_p95_ms_with']:.1f} ms with "
            f"({f['ratio']:.2f}x; target <= 1.2x); {f['legitimate_rps_without']:.0f} and {f['legitimate_rps_with']:.0f} req/s"
            f"; the flooding process used {f['flood_client_cores_while_on']:.2f} cores while on"
        )
        print(
            f"  audit: {f['auth_failed_entries_from_flood_source']} auth.failed entries from {FLOOD_SOURCE} "
            f"(at most {f['max_entries_per_key_and_interval']} a key and {f['auth_failure_window_s']} s interval, "
            f"{f['keys_and_intervals']} keys x intervals) counting {f['failures_counted_in_those_entries']} failures"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=600, help="seconds of load (default 600)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--experts", type=int, default=10_000, help="synthetic experts added (default 10000)")
    parser.add_argument("--warmup", type=int, default=30, help="seconds not timed (default 30)")
    parser.add_argument("--rss-interval", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--restart-db-at", type=float, help="restart the database this many seconds in")
    parser.add_argument(
        "--flood", action="store_true", help="failed authentications from 127.0.0.2 in periods"
    )
    parser.add_argument("--flood-period", type=float, default=60.0, help="seconds of each flood period")
    parser.add_argument("--flood-concurrency", type=int, default=16, help="concurrent flood requests")
    parser.add_argument(
        "--refusal-delay", type=int, help="MSNET_AUTH_REFUSAL_DELAY of the node (default: its default)"
    )
    parser.add_argument("--json", type=Path, help="write the summary there")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    root = Path(tempfile.mkdtemp(prefix="msnet-load-"))
    database = Database(root)
    serve: subprocess.Popen[bytes] | None = None
    flooder = None
    ctx = multiprocessing.get_context("fork")
    flood_on, flood_stop, counts = ctx.Event(), ctx.Event(), ctx.Array("l", 7)
    try:
        urls = database.urls
        migrate.upgrade(urls.admin, urls.app)
        env, base = node_env(
            urls.app,
            urls.admin,
            MSNET_DATA_DIR=str(root / "msnet"),
            MSNET_ACCESS_TOKEN_TTL=str(TOKEN_TTL),
            MSNET_REQUEST_BURST_LIMIT="10000",
            **({} if args.refusal_delay is None else {"MSNET_AUTH_REFUSAL_DELAY": str(args.refusal_delay)}),
        )
        print("loading the demo network …", flush=True)
        demo = subprocess.run([*MSNET, "demo", "--no-serve"], env=env, capture_output=True, text=True)
        if demo.returncode:
            raise SystemExit(f"msnet demo --no-serve failed:\n{demo.stderr}")
        credentials = json.loads((root / "msnet" / "demo-credentials.json").read_text())
        print(
            f"adding 50 organisations, 2,000 offices, 6,000 capacities, {args.experts} experts …", flush=True
        )
        asyncio.run(load(urls.admin, args.experts))
        asyncio.run(add_capacities(urls.admin))
        log = root / "serve.log"
        with log.open("wb") as out:
            serve = subprocess.Popen([*MSNET, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_ready(f"{base}/health/ready")
        if args.flood:
            flooder = ctx.Process(
                target=flood_process,
                args=(
                    base,
                    credentials["un"]["client_id"],
                    args.flood_concurrency,
                    flood_on,
                    flood_stop,
                    counts,
                ),
                daemon=True,
            )
            flooder.start()
        run, memory = asyncio.run(drive(base, credentials, database, serve.pid, args, flood_on))
        flood_cpu = sum(psutil.Process(flooder.pid).cpu_times()[:2]) if flooder is not None else 0.0
        flood_stop.set()
        if flooder is not None:
            flooder.join(timeout=60)
        serve.send_signal(
            signal.SIGINT
        )  # its last interval's failed authentications are recorded as it stops
        serve.wait(timeout=60)
        serve = None
        records, requests, offers = asyncio.run(read_truth(database.superuser))
        run.unresolved = run.checker.settle(records, requests, offers)
        summary = summarise(run, memory, args)
        report_flood(summary, list(counts), asyncio.run(audit_failures(database.superuser)), 60)
        if "flood" in summary:  # the flooding process shares the machine's cores with the server
            summary["flood"]["flood_client_cores_while_on"] = flood_cpu / max(
                summary["flood"]["seconds_on"], 1e-9
            )
        logged = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("{")]
        summary["serve_log"] = {
            "lines": len(logged),
            "database_unavailable": sum('"database unavailable"' in line for line in logged),
            "unhandled_errors": [
                json.loads(line).get("exception", "") for line in logged if '"unhandled error"' in line
            ],
        }
    finally:
        flood_stop.set()
        if serve is not None:
            serve.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                serve.wait(timeout=60)
        database.close()
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print_summary(summary)
    unhandled = summary["serve_log"]["unhandled_errors"]
    print(
        f"serve log: {summary['serve_log']['database_unavailable']} 'database unavailable' warnings, "
        f"{len(unhandled)} unhandled errors"
    )
    for exception in unhandled[:2]:
        print(exception)
    shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
