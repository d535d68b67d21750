"""The answers kept for a generation of the figures: computed once however many ask at once, the
least recently used dropped beyond the size limit, and a failed computation not kept."""

from __future__ import annotations

import asyncio

import pytest

from msnet.reports.service import Answers


async def test_callers_arriving_together_share_one_computation() -> None:
    answers = Answers(1000)
    computed = 0
    release = asyncio.Event()

    async def compute() -> bytes:
        nonlocal computed
        computed += 1
        await release.wait()
        return b"figures"

    waiting = [asyncio.create_task(answers.answer("report", compute)) for _ in range(8)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [b"figures"] * 8
    assert computed == 1
    assert await answers.answer("report", compute) == b"figures"
    assert (computed, answers.computing) == (1, {})


async def test_the_least_recently_used_go_first_and_failures_are_not_kept() -> None:
    answers = Answers(10)

    async def body(text: bytes) -> bytes:
        return text

    await answers.answer("a", lambda: body(b"aaaa"))
    await answers.answer("b", lambda: body(b"bbbb"))
    assert answers.get("a") == b"aaaa"  # a is now the most recently used
    await answers.answer("c", lambda: body(b"cccc"))
    assert (answers.get("a"), answers.get("b"), answers.get("c"), answers.size) == (b"aaaa", None, b"cccc", 8)
    await answers.answer("big", lambda: body(b"x" * 11))  # larger than the whole store: not kept
    assert (answers.get("big"), answers.size) == (None, 8)

    async def fail() -> bytes:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        await answers.answer("d", fail)
    assert (answers.get("d"), answers.computing) == (None, {})
    assert await answers.answer("d", lambda: body(b"dd")) == b"dd"
