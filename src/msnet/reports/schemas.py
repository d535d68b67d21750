"""API boundary of the reports: an organisation's own track record, the network's picture, and the
lessons of closed requests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta, field

from msnet.api import Struct
from msnet.processes.schemas import ProcessRef

GroupBy = Literal["month", "quarter", "theme", "service_type", "region", "country", "process", "outcome"]
Dimension = Literal["theme", "region", "service_type"]
GROUP_BY: tuple[str, ...] = GroupBy.__args__  # type: ignore[attr-defined]
DIMENSIONS: tuple[str, ...] = Dimension.__args__  # type: ignore[attr-defined]
Hours = Annotated[float | None, Meta(description="Hours; null when there is nothing to measure.")]


class Spread(Struct):
    """A duration's median and 90th percentile in hours (continuous percentiles, interpolated
    between the two nearest values); null when no request in the group has the event."""

    median: Annotated[Hours, Meta(examples=[26.5])]
    p90: Annotated[Hours, Meta(examples=[71.25])]


class Figures(Struct):
    """One side of an organisation's track record for a group of requests submitted in the period.
    As requester (`asked`): its requests, the offers and declines they received, the offers it
    accepted, how they ended, the expert places in the offers it accepted. As addressee
    (`received`): the requests addressed to its offices, its offers and declines, its offers
    accepted, how the requests it was accepted on ended, its expert places in them."""

    requests: Annotated[int, Meta(examples=[12])]
    offers: Annotated[int, Meta(examples=[9])]
    offers_accepted: Annotated[int, Meta(examples=[7])]
    declines: Annotated[int, Meta(examples=[2])]
    delivered: Annotated[int, Meta(examples=[5])]
    not_delivered: Annotated[int, Meta(examples=[1])]
    experts: Annotated[int, Meta(description="Expert places in accepted offers.", examples=[11])]
    first_response_hours: Spread
    acceptance_hours: Spread
    not_delivered_reasons: Annotated[
        list[str],
        Meta(
            description="The reasons given when closing the requests counted as not delivered, "
            "each once, in order.",
            examples=[["the talks were suspended"]],
        ),
    ]


class TrackRecordRow(Struct):
    """The figures of one group (a month, a theme, a process…) or of the whole period (`total`)."""

    key: Annotated[
        str,
        Meta(
            description="The group: `2027-03` (month), `2027-Q1` (quarter), a taxonomy id, a country code, "
            "a process id, an outcome (`delivered`, `not_delivered`, `rejected`, `cancelled`, `open`); "
            "`none` for requests without a value; `total` for the whole period.",
            examples=["2027-Q1"],
        ),
    ]
    label: Annotated[
        str | None,
        Meta(
            description="The process's name, when grouped by process and the caller may see it; else null.",
            examples=["Mali: inter-Malian dialogue"],
        ),
    ]
    asked: Figures
    received: Figures
    trainings: Annotated[
        int | None,
        Meta(
            description="Trainings the organisation shares that start in the group; null where "
            "trainings have no such dimension (service type, process, outcome) or an office is chosen.",
            examples=[2],
        ),
    ]


class TrackRecordFilters(Struct):
    """The filters a track record was made with (null: none)."""

    office_id: UUID | None
    theme: Annotated[str | None, Meta(examples=["gender_inclusion"])]
    service_type: Annotated[str | None, Meta(examples=["process_design"])]
    region: Annotated[str | None, Meta(examples=["western_africa"])]
    country: Annotated[str | None, Meta(examples=["ML"])]
    process_id: UUID | None


class TrackRecord(Struct):
    """An organisation's own track record: what it asked and what it was asked, for the requests
    submitted from `from` to `to` (inclusive, UTC), grouped by `group_by`. A request with several
    themes (service types, regions, countries) counts in each of them: the groups then add up to
    more than the total."""

    organisation: Annotated[str, Meta(examples=["au"])]
    from_: Annotated[date, Meta(examples=["2027-01-01"])] = field(name="from")
    to: Annotated[date, Meta(examples=["2027-12-31"])]
    group_by: GroupBy
    filters: TrackRecordFilters
    rows: list[TrackRecordRow]
    total: TrackRecordRow


class NetworkCell(Struct):
    """The network's figures for one quarter and one value, over every organisation's requests;
    every figure null and `suppressed` true when the disclosure rule keeps it back."""

    key: Annotated[str, Meta(description="A taxonomy id, `none`, or `total`.", examples=["gender_inclusion"])]
    suppressed: bool
    requests: Annotated[int | None, Meta(examples=[37])]
    offers: Annotated[int | None, Meta(examples=[41])]
    accepted: Annotated[int | None, Meta(description="Requests with an accepted offer.", examples=[29])]
    delivered: Annotated[int | None, Meta(examples=[22])]
    not_delivered: Annotated[int | None, Meta(examples=[3])]
    declines: Annotated[int | None, Meta(examples=[8])]
    experts: Annotated[int | None, Meta(examples=[45])]
    first_response_hours: Spread | None
    acceptance_hours: Spread | None


class NetworkQuarter(Struct):
    """One quarter of the network's picture: its total and one cell per value of the dimension."""

    quarter: Annotated[str, Meta(examples=["2027-Q1"])]
    total: NetworkCell
    cells: list[NetworkCell]


class NetworkReport(Struct):
    """The network's picture: every organisation's requests, by quarter and one fixed dimension, with
    every cell that fewer than `min_count` requests of organisations other than the one that asked
    most in it would show suppressed (and one more in a quarter where a single one would be)."""

    dimension: Dimension
    from_quarter: Annotated[str, Meta(examples=["2026-Q1"])]
    to_quarter: Annotated[str, Meta(examples=["2026-Q4"])]
    min_count: Annotated[int, Meta(examples=[5])]
    quarters: list[NetworkQuarter]


class Lesson(Struct):
    """The after-action note of a closed request, with what it was about and how it ended."""

    request_id: UUID
    title: Annotated[str, Meta(examples=["Process design support for the Bangui dialogue follow-up"])]
    organisation: Annotated[str, Meta(description="Who asked.", examples=["au"])]
    process: ProcessRef
    themes: Annotated[list[str], Meta(examples=[["national_dialogue"]])]
    service_types: Annotated[list[str], Meta(examples=[["process_design"]])]
    regions: Annotated[
        list[str],
        Meta(description="The process's regions, when the caller may see it.", examples=[["middle_africa"]]),
    ]
    delivered: bool
    modality: Annotated[str | None, Meta(examples=["in_person"])]
    reason: Annotated[str, Meta(examples=[""])]
    lesson: Annotated[
        str,
        Meta(
            examples=[
                "Agree the language of the working documents with the parties before the first session."
            ]
        ),
    ]
    closed_at: datetime


class LessonPage(Struct):
    """A page of lessons, most recently closed first."""

    items: list[Lesson]
    next_cursor: str | None
    total: int
