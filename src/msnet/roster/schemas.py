"""API boundary of the roster."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from msnet.api import Struct
from msnet.fields import CountryCode, Email, LanguageCode, LongText, Name, TermId
from msnet.sharing import ShareWith, Sharing

Level = Literal["working", "advanced", "expert"]
Proficiency = Literal["none", "basic", "working", "fluent", "native"]
Seniority = Literal["junior", "mid", "senior", "eminent"]
ShortText = Annotated[str, Meta(min_length=1, max_length=200)]
Phone = Annotated[str, Meta(pattern=r"^\+?[0-9 ().-]{5,39}$", max_length=40)]
ExternalId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9 ._:/#-]*[A-Za-z0-9._:/#-])?$",
        description="The organisation's own reference for the expert (e.g. its HR system's), unique "
        "within the organisation: letters, digits, spaces and . _ : / # -, beginning with a letter or "
        "digit. Shown to the organisation only.",
    ),
]


class Expertise(Struct):
    """A theme or service type an expert knows, and how well."""

    kind: Literal["theme", "service_type"]
    term: Annotated[TermId, Meta(examples=["ceasefire_security"])]
    level: Level = "working"


class LanguageSkill(Struct):
    """A language an expert reads, speaks and writes, and how well."""

    code: Annotated[LanguageCode, Meta(examples=["fr"])]
    read: Proficiency = "working"
    speak: Proficiency = "working"
    write: Proficiency = "working"


class Window(Struct):
    """A date range in which the expert can be deployed (dates inclusive)."""

    start: date
    end: date
    remote: bool = True
    in_person: bool = True


class Consent(Struct):
    """The expert's consent to be on the roster and shared as ``sharing`` says."""

    given_on: date
    purpose: Annotated[str, Meta(min_length=3, max_length=500, examples=["AU and partner deployments"])]
    recorded_by: Annotated[ShortText, Meta(examples=["AU Mediation Support Unit"])]


class Contact(Struct):
    """An expert's contact details: personal data, read only with `roster:contact` (audited)."""

    email: Annotated[Email | None, Meta(examples=["a.diallo@example.org"])] = None
    phone: Annotated[Phone | None, Meta(examples=["+251 11 551 7700"])] = None


ExpertiseList = Annotated[list[Expertise], Meta(max_length=40)]
Languages = Annotated[list[LanguageSkill], Meta(max_length=20)]
Windows = Annotated[list[Window], Meta(max_length=50)]
Countries = Annotated[list[CountryCode], Meta(max_length=50)]
Places = Annotated[list[Annotated[str, Meta(min_length=2, max_length=60)]], Meta(max_length=100)]
Names = Annotated[list[ShortText], Meta(max_length=50)]


class ExpertCreate(Struct):
    """A new roster entry: the expert's expertise, languages, experience, availability, and the consent the
    entry rests on; contact details are kept apart."""

    name: Annotated[Name, Meta(examples=["Aïssatou Diallo"])]
    external_id: ExternalId | None = None
    bio: LongText = ""
    seniority: Annotated[Seniority | None, Meta(examples=["senior"])] = None
    expertise: ExpertiseList = []
    languages: Languages = []
    nationalities: Countries = []
    experience: Annotated[
        Places, Meta(description="Countries (ISO 3166-1) and regions (taxonomy ids) worked in.")
    ] = []
    availability: Windows = []
    affiliations: Names = []
    past_processes: Names = []
    consent: Consent | None = None
    contact: Contact | None = None
    sharing: Sharing = "network"
    share_with: ShareWith = []


class ExpertUpdate(Struct):
    """The changes to a roster entry: only the fields sent change."""

    name: Name | UnsetType = UNSET
    external_id: ExternalId | UnsetType | None = UNSET
    bio: LongText | UnsetType = UNSET
    seniority: Annotated[Seniority, Meta(examples=["eminent"])] | UnsetType | None = UNSET
    expertise: ExpertiseList | UnsetType = UNSET
    languages: Languages | UnsetType = UNSET
    nationalities: Countries | UnsetType = UNSET
    experience: Places | UnsetType = UNSET
    availability: Windows | UnsetType = UNSET
    affiliations: Names | UnsetType = UNSET
    past_processes: Names | UnsetType = UNSET
    consent: Consent | UnsetType | None = UNSET
    contact: Contact | UnsetType | None = UNSET
    sharing: Sharing | UnsetType = UNSET
    share_with: ShareWith | UnsetType = UNSET


class Expert(Struct):
    """A roster entry: a person an organisation can deploy, with expertise, languages, regions, seniority and
    availability (never contact details)."""

    id: UUID
    organisation: str
    name: Annotated[str, Meta(examples=["Aïssatou Diallo"])]
    bio: Annotated[
        str,
        Meta(examples=["Former political affairs officer; advised two ceasefire commissions in the Sahel."]),
    ]
    seniority: Annotated[Seniority | None, Meta(examples=["senior"])]
    expertise: list[Expertise]
    languages: list[LanguageSkill]
    nationalities: Annotated[list[str], Meta(examples=[["SN"]])]
    experience: Annotated[list[str], Meta(examples=[["ML", "BF", "africa"]])]
    regions: Annotated[list[str], Meta(examples=[["africa"]])]
    availability: list[Window]
    affiliations: list[str]
    past_processes: Annotated[list[str], Meta(examples=[["Algiers process (Mali)"]])]
    consent: Consent | None
    sharing: Sharing
    share_with: list[str]
    origin: str
    version: int
    created_at: datetime
    updated_at: datetime
    external_id: Annotated[
        str | UnsetType | None,
        Meta(description="The owner's own reference; present only in the owner's reads."),
    ] = UNSET


class ExpertPage(Struct):
    """A page of roster entries, with facets counting what matched."""

    items: list[Expert]
    next_cursor: str | None
    total: int
    facets: dict[str, dict[str, int]]


class ExpertContact(Struct):
    """An expert's e-mail and phone (every read is audit-logged)."""

    expert_id: UUID
    email: Annotated[str | None, Meta(examples=["a.diallo@example.org"])]
    phone: Annotated[str | None, Meta(examples=["+251 11 551 7700"])]


ImportMode = Literal["create", "upsert"]


class ImportedExpert(Struct):
    """A row of an import, and the expert it created, changed or left alone."""

    row: Annotated[
        int, Meta(description="The row of the file, as a spreadsheet numbers it (the header is 1).")
    ]
    id: Annotated[UUID | None, Meta(description="The expert's id; none for a creation in a dry run.")]
    external_id: Annotated[str | None, Meta(examples=["HR-2027-0142"])]
    name: Annotated[str, Meta(examples=["Aïssatou Diallo"])]
    changed: Annotated[list[str], Meta(description="For an update: the fields it changes.")] = []


class ImportReport(Struct):
    """What an import did (or, in a dry run, would do), row by row."""

    mode: ImportMode
    dry_run: bool
    created: list[ImportedExpert]
    updated: list[ImportedExpert]
    unchanged: list[ImportedExpert]
