"""The jobs runner: jobs side by side until stopped, a failing one run again after a growing backoff
while the others run on, a stop that waits for the steps under way but no longer than the grace
period, and periodic jobs that tick at their interval."""

from __future__ import annotations

import asyncio
from itertools import pairwise

from sqlalchemy.ext.asyncio import async_sessionmaker
from structlog.testing import capture_logs

from msnet.jobs import runner
from msnet.jobs.runner import Context, Periodic
from msnet.middleware import Metrics
from msnet.settings import Settings

WAIT = 30.0  # seconds: a generous bound on anything that should happen at once


def _context() -> Context:
    return Context(async_sessionmaker(), Settings.from_env({}), Metrics())


class Waiting:
    """Runs until stopped."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = asyncio.Event()
        self.finished = False

    async def run(self, context: Context, stop: asyncio.Event) -> None:
        self.started.set()
        await stop.wait()
        self.finished = True


class Failing:
    """Fails its first runs, then runs until stopped; notes how often ``ticker`` had ticked at each run."""

    name = "failing"

    def __init__(self, failures: int, ticker: Ticker, healthy_for: dict[int, float] | None = None) -> None:
        self.failures = failures
        self.ticker = ticker
        self.healthy_for = healthy_for or {}
        self.ticks_seen: list[int] = []
        self.recovered = asyncio.Event()

    async def run(self, context: Context, stop: asyncio.Event) -> None:
        self.ticks_seen.append(self.ticker.ticks)
        run = len(self.ticks_seen)
        await asyncio.sleep(self.healthy_for.get(run, 0))
        if run <= self.failures:
            raise RuntimeError(f"run {run} failed")
        self.recovered.set()
        await stop.wait()


class Ticker:
    def __init__(self) -> None:
        self.ticks = 0
        self.ticked = asyncio.Event()

    async def tick(self, context: Context) -> None:
        self.ticks += 1
        self.ticked.set()


async def test_the_runner_runs_its_jobs_side_by_side_until_stopped() -> None:
    jobs = [Waiting("a"), Waiting("b"), Waiting("c")]
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(jobs, _context(), stop))
    await asyncio.wait_for(asyncio.gather(*(job.started.wait() for job in jobs)), WAIT)
    assert not any(job.finished for job in jobs)
    assert not running.done()

    stop.set()
    await asyncio.wait_for(running, WAIT)
    assert all(job.finished for job in jobs)


async def test_a_failing_job_runs_again_after_a_growing_backoff_while_the_others_run_on() -> None:
    ticker = Ticker()
    failing = Failing(4, ticker)
    stop = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(
            runner.run(
                [failing, Periodic("ticking", 0.01, ticker.tick)],
                _context(),
                stop,
                first_backoff=0.02,
                max_backoff=0.05,
            )
        )
        try:
            await asyncio.wait_for(failing.recovered.wait(), WAIT)
        finally:
            stop.set()
            await asyncio.wait_for(running, WAIT)

    failures = [entry for entry in logs if entry["event"] == "job failed"]
    assert [entry["restart_in"] for entry in failures] == [0.02, 0.04, 0.05, 0.05]
    assert {(entry["job"], entry["error"], entry["log_level"]) for entry in failures} == {
        ("failing", "RuntimeError", "error")
    }
    assert len(failing.ticks_seen) == 5
    assert failing.ticks_seen[-1] > failing.ticks_seen[0]  # the other job ticked on meanwhile


async def test_a_job_that_ran_as_long_as_the_cap_before_failing_starts_its_backoff_over() -> None:
    ticker = Ticker()
    failing = Failing(3, ticker, healthy_for={3: 0.2})
    stop = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(
            runner.run([failing], _context(), stop, first_backoff=0.02, max_backoff=0.05)
        )
        try:
            await asyncio.wait_for(failing.recovered.wait(), WAIT)
        finally:
            stop.set()
            await asyncio.wait_for(running, WAIT)

    assert [entry["restart_in"] for entry in logs if entry["event"] == "job failed"] == [0.02, 0.04, 0.02]


async def test_stopping_waits_for_the_steps_under_way_and_cancels_a_job_past_the_grace_period() -> None:
    class Finishing(Waiting):
        async def run(self, context: Context, stop: asyncio.Event) -> None:
            self.started.set()
            await stop.wait()
            await asyncio.sleep(0.05)  # the end of its step
            self.finished = True

    class Stuck(Waiting):
        cancelled = False

        async def run(self, context: Context, stop: asyncio.Event) -> None:
            self.started.set()
            try:
                await asyncio.sleep(3600)  # never looks at stop
            except asyncio.CancelledError:
                self.cancelled = True
                raise

    finishing, stuck = Finishing("finishing"), Stuck("stuck")
    stop = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(runner.run([finishing, stuck], _context(), stop, grace=1.0))
        await asyncio.wait_for(asyncio.gather(finishing.started.wait(), stuck.started.wait()), WAIT)
        stop.set()
        await asyncio.wait_for(running, WAIT)

    assert finishing.finished
    assert stuck.cancelled
    assert [(entry["event"], entry["job"]) for entry in logs if entry["log_level"] == "warning"] == [
        ("job cancelled: its step outlasted the grace period", "stuck")
    ]


async def test_a_periodic_job_ticks_at_its_interval() -> None:
    loop = asyncio.get_running_loop()
    ticks: list[float] = []
    stop = asyncio.Event()

    async def tick(context: Context) -> None:
        ticks.append(loop.time())
        if len(ticks) == 4:
            stop.set()

    await asyncio.wait_for(runner.run([Periodic("ticking", 0.05, tick)], _context(), stop), WAIT)
    assert len(ticks) == 4
    assert all(later - earlier >= 0.045 for earlier, later in pairwise(ticks))


async def test_a_periodic_job_ticks_at_once_and_stops_while_waiting_for_the_next() -> None:
    ticker = Ticker()
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run([Periodic("hourly", 3600, ticker.tick)], _context(), stop))
    await asyncio.wait_for(ticker.ticked.wait(), WAIT)
    stop.set()
    await asyncio.wait_for(running, WAIT)
    assert ticker.ticks == 1
