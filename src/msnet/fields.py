"""Field types every API body shares: names, texts, e-mail addresses, taxonomy terms, codes."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from msgspec import Meta

from msnet.api import Struct

Slug = Annotated[
    str,
    Meta(pattern=r"^[a-z][a-z0-9-]{1,31}$", description="Short lower-case name, e.g. `au`.", examples=["au"]),
]
Name = Annotated[str, Meta(min_length=2, max_length=200)]
LongText = Annotated[str, Meta(max_length=4000)]
Email = Annotated[str, Meta(pattern=r"^[^@\s]{1,64}@[^@\s]{1,185}\.[A-Za-z]{2,}$", max_length=200)]
TermId = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{1,59}$", max_length=60)]
CountryCode = Annotated[str, Meta(pattern=r"^[A-Za-z]{2}$")]
LanguageCode = Annotated[str, Meta(pattern=r"^[A-Za-z]{2,3}$")]
Terms = Annotated[list[TermId], Meta(max_length=40)]


class Period(Struct):
    """Dates, both inclusive."""

    start: Annotated[date, Meta(examples=["2027-03-01"])]
    end: Annotated[date, Meta(examples=["2027-06-30"])]
