"""What the demo network is made of: each organisation's offices and capacities, and the pools the
demo roster is drawn from (names, languages, places, affiliations and processes by region).

Everything here is invented. Offices are modelled on the structures the 2018 UN–EU workshop note
describes, but their mailboxes are on example.org; the experts are generated from these pools by
``msnet.demo`` with a fixed seed, so every run makes the same people, none of them real.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from msnet.sharing import Sharing

# --- offices and capacities ----------------------------------------------------------------

GLOBAL = ("africa", "americas", "asia", "europe", "oceania")


@dataclass(frozen=True)
class CapacitySpec:
    service_type: str
    themes: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    lead_time_days: int = 14
    concurrent_engagements: int = 1
    notes: str = ""
    sharing: Sharing = "network"
    #: last confirmed this many days ago (over 180: stale); None for "now", as created
    confirmed_days_ago: int | None = None


@dataclass(frozen=True)
class OfficeSpec:
    name: str
    parent_structure: str
    mandate: str
    staff_size: int
    role_mailbox: str
    capacities: tuple[CapacitySpec, ...]
    sharing: Sharing = "network"


OFFICES: dict[str, tuple[OfficeSpec, ...]] = {
    "au": (
        OfficeSpec(
            name="Mediation Support Unit",
            parent_structure="Conflict Management Directorate, Department of Political Affairs, Peace and "
            "Security (PAPS), African Union Commission (Addis Ababa)",
            mandate="Supports the preventive diplomacy and mediation of the Chairperson of the Commission, "
            "AU High Representatives and special envoys, and the Panel of the Wise: process design, "
            "technical experts for mediation teams, briefings for newly appointed envoys, and mediation "
            "training. Works with the Regional Economic Communities on the principles of subsidiarity "
            "and complementarity.",
            staff_size=9,
            role_mailbox="msu@au.example.org",
            capacities=(
                CapacitySpec(
                    "process_design",
                    themes=("national_dialogue", "power_sharing", "constitution_making"),
                    countries=("SD", "SS", "LY", "CF", "ML", "SO", "ET"),
                    regions=("africa",),
                    languages=("en", "fr", "ar", "pt"),
                    lead_time_days=14,
                    concurrent_engagements=3,
                    notes="Process design advice to AU-led and co-led processes: options for formats, "
                    "sequencing and the inclusion of armed movements, women and youth; drafting support "
                    "for frameworks and declarations of principles.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=("ceasefire_security", "ddr", "armed_groups", "agreement_implementation"),
                    regions=("africa",),
                    languages=("en", "fr", "ar"),
                    lead_time_days=10,
                    concurrent_engagements=2,
                    notes="Ceasefire and security arrangements advisers for mediation teams: cessation of "
                    "hostilities texts, monitoring and verification mechanisms, links to DDR.",
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("gender_inclusion", "local_mediation"),
                    regions=("africa",),
                    languages=("en", "fr", "pt", "ar"),
                    lead_time_days=45,
                    concurrent_engagements=2,
                    notes="Continental mediation courses for AU staff, the mediation structures of the "
                    "Regional Economic Communities and national infrastructures for peace.",
                ),
                CapacitySpec(
                    "mediator_briefing",
                    regions=("africa",),
                    languages=("en", "fr", "ar", "pt"),
                    lead_time_days=7,
                    concurrent_engagements=2,
                    notes="Briefings and backstopping for newly appointed High Representatives and special "
                    "envoys; handover notes between outgoing and incoming envoys.",
                ),
            ),
        ),
        OfficeSpec(
            name="FemWise-Africa Secretariat",
            parent_structure="Panel of the Wise Secretariat, Conflict Management Directorate, PAPS",
            mandate="Secretariat of the Network of African Women in Conflict Prevention and Mediation: "
            "deploys women mediators to mediation teams and local processes, runs induction and "
            "mentoring, and connects national and regional women mediators' networks.",
            staff_size=4,
            role_mailbox="femwise@au.example.org",
            capacities=(
                CapacitySpec(
                    "thematic_expertise",
                    themes=("gender_inclusion", "local_mediation", "civil_society_youth"),
                    regions=("africa",),
                    languages=("en", "fr", "ar", "pt", "sw"),
                    lead_time_days=21,
                    concurrent_engagements=4,
                    notes="Women mediators from the network for mediation teams, national dialogues and "
                    "local peace processes, with a gender perspective on the process design.",
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("gender_inclusion",),
                    regions=("africa",),
                    languages=("en", "fr"),
                    lead_time_days=60,
                    concurrent_engagements=2,
                    notes="Induction courses and mentoring for new network members; training of trainers "
                    "with national women mediators' networks.",
                ),
            ),
        ),
    ),
    "commonwealth": (
        OfficeSpec(
            name="Good Offices Section",
            parent_structure="Governance and Peace Directorate, Commonwealth Secretariat (London)",
            mandate="Supports the Secretary-General's good offices for peace: quiet diplomacy, envoys and "
            "advisers around elections and political tensions in member states, dialogue facilitation "
            "and cooperation with regional organisations; draws on a roster of eminent persons and "
            "technical experts from across the Commonwealth.",
            staff_size=5,
            role_mailbox="goodoffices@commonwealth.example.org",
            capacities=(
                CapacitySpec(
                    "advisory_support",
                    themes=("electoral_violence", "national_dialogue"),
                    countries=("CM", "MZ", "LS", "MV", "PG", "GY", "FJ", "SL"),
                    regions=("sub_saharan_africa", "southern_asia", "melanesia", "caribbean"),
                    languages=("en", "fr", "pt"),
                    lead_time_days=10,
                    concurrent_engagements=3,
                    notes="Advisers and envoys for the Secretary-General's good offices before and after "
                    "elections: political dialogue between parties, confidence building, quiet diplomacy.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=("constitution_making", "human_rights"),
                    regions=("africa", "asia", "oceania", "caribbean"),
                    languages=("en",),
                    lead_time_days=21,
                    concurrent_engagements=2,
                    notes="Constitutional and legal experts from member states: constitutional review "
                    "processes, independent institutions, rule of law in transitions.",
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("electoral_violence", "civil_society_youth", "gender_inclusion"),
                    regions=("africa", "asia", "oceania", "caribbean"),
                    languages=("en",),
                    lead_time_days=45,
                    concurrent_engagements=2,
                    notes="Dialogue and mediation training for national peace architectures, election "
                    "management bodies and youth peace networks.",
                ),
            ),
        ),
    ),
    "eac": (
        OfficeSpec(
            name="Mediation Support Unit (being established)",
            parent_structure="Peace and Security Department, EAC Secretariat (Arusha)",
            mandate="Being established under the EAC peace and security framework: will support the "
            "facilitation of regional dialogues mandated by the Summit and keep a roster of mediators "
            "from the partner states. As the 2018 workshop noted, the Community is still exploring how "
            "to institutionalise mediation support; until then it offers advisory support and training "
            "with partners.",
            staff_size=2,
            role_mailbox="mediation@eac.example.org",
            capacities=(
                CapacitySpec(
                    "advisory_support",
                    themes=("national_dialogue", "electoral_violence"),
                    countries=("BI", "SS", "CD", "SO"),
                    regions=("eastern_africa",),
                    languages=("en", "sw", "fr"),
                    lead_time_days=21,
                    concurrent_engagements=1,
                    notes="Advice to the facilitators of EAC-led dialogues: preparation of sessions, "
                    "records, follow-up of commitments.",
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("local_mediation", "peace_infrastructures"),
                    regions=("eastern_africa",),
                    languages=("en", "sw", "fr"),
                    lead_time_days=60,
                    concurrent_engagements=1,
                    notes="With partners: training of national peace committees and mediators from the "
                    "partner states; exchange visits.",
                ),
            ),
        ),
    ),
    "eccas": (
        OfficeSpec(
            name="Mediation Support Unit (being established)",
            parent_structure="Department of Political Affairs, Peace and Security, ECCAS Commission "
            "(Libreville)",
            mandate="Being established to support the Commission's good offices and mediation in Central "
            "Africa, drawing on the Central African Early Warning Mechanism (MARAC) and the Council for "
            "Peace and Security in Central Africa (COPAX). Focus on the Central African Republic, Chad, "
            "the Lake Chad basin and cross-border transhumance.",
            staff_size=3,
            role_mailbox="msu@eccas.example.org",
            capacities=(
                CapacitySpec(
                    "advisory_support",
                    themes=("national_dialogue", "armed_groups", "agreement_implementation"),
                    countries=("CF", "TD", "CM", "CD", "BI"),
                    regions=("middle_africa",),
                    languages=("fr", "sg", "ar", "pt", "es"),
                    lead_time_days=21,
                    concurrent_engagements=1,
                    notes="Support to the Commission's envoys in the Central African Republic and Chad: "
                    "follow-up of peace agreements with armed groups, national dialogues.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=("transhumance", "natural_resources", "local_mediation"),
                    countries=("CF", "TD", "CM"),
                    regions=("middle_africa",),
                    languages=("fr", "ar", "sg"),
                    lead_time_days=30,
                    concurrent_engagements=1,
                    notes="Cross-border transhumance: local agreements between herders and farmers, "
                    "transhumance corridors and committees.",
                    confirmed_days_ago=240,
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("early_warning", "local_mediation"),
                    regions=("middle_africa",),
                    languages=("fr",),
                    lead_time_days=60,
                    concurrent_engagements=1,
                    notes="Training for the correspondents of the early warning mechanism and local "
                    "mediators in border areas.",
                ),
            ),
        ),
    ),
    "eu": (
        OfficeSpec(
            name="Mediation Support Team",
            parent_structure="Conflict Prevention and Mediation Support Division, European External Action "
            "Service (EEAS, Brussels)",
            mandate="Supports the mediation and dialogue engagements of the High Representative, EU Special "
            "Representatives, EU delegations and CSDP missions: conflict analysis, process design, "
            "coaching and training, and experts from the EU's mediation roster and framework contracts. "
            "Co-hosts the biennial technical workshops of mediation support structures with the UN.",
            staff_size=12,
            role_mailbox="mst@eu.example.org",
            sharing="public",
            capacities=(
                CapacitySpec(
                    "conflict_analysis",
                    themes=("early_warning", "gender_inclusion"),
                    regions=("africa", "asia", "europe", "latin_america_caribbean"),
                    languages=("en", "fr", "es", "ar", "ru"),
                    lead_time_days=14,
                    concurrent_engagements=4,
                    notes="Gender-sensitive conflict analysis workshops for EU delegations and missions, "
                    "linked to the EU early warning system; often the entry point to mediation support.",
                ),
                CapacitySpec(
                    "coaching",
                    regions=GLOBAL,
                    languages=("en", "fr", "es"),
                    lead_time_days=10,
                    concurrent_engagements=3,
                    notes="Coaching and strategic reflection for EU Special Representatives, envoys and "
                    "their teams; peer exchange with former envoys.",
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("gender_inclusion", "media_communication", "digital_conflict"),
                    regions=GLOBAL,
                    languages=("en", "fr", "es"),
                    lead_time_days=45,
                    concurrent_engagements=3,
                    notes="Courses on mediation, dialogue facilitation and negotiation for EU staff and "
                    "partners; training for insider mediators with partner NGOs; media mapping.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=(
                        "constitution_making",
                        "ceasefire_security",
                        "natural_resources",
                        "peace_economics",
                    ),
                    regions=GLOBAL,
                    languages=("en", "fr", "es", "ar", "ru", "pt"),
                    lead_time_days=21,
                    concurrent_engagements=5,
                    notes="Experts deployed from the EU mediation roster under a framework contract, "
                    "typically for two to six weeks on site or remotely.",
                ),
                CapacitySpec(
                    "technical_support",
                    themes=("national_dialogue", "local_mediation"),
                    regions=("africa", "asia", "europe", "latin_america_caribbean"),
                    languages=("en", "fr"),
                    lead_time_days=30,
                    concurrent_engagements=2,
                    notes="Funding and logistics for dialogue platforms and local mediation through the "
                    "EU's rapid-response instrument.",
                    sharing="public",
                ),
            ),
        ),
    ),
    "igad": (
        OfficeSpec(
            name="Mediation Support Unit",
            parent_structure="Peace and Security Division, IGAD Secretariat (Djibouti)",
            mandate="Supports IGAD special envoys and the Council of Ministers in regional peace processes "
            "(South Sudan, Sudan, Somalia): process design, drafting support, technical advisers to "
            "negotiation teams, and the IGAD roster of mediators from the region.",
            staff_size=6,
            role_mailbox="msu@igad.example.org",
            capacities=(
                CapacitySpec(
                    "process_design",
                    themes=("power_sharing", "agreement_implementation", "national_dialogue"),
                    countries=("SS", "SD", "SO", "ET"),
                    regions=("eastern_africa",),
                    languages=("en", "ar", "am", "so", "sw"),
                    lead_time_days=7,
                    concurrent_engagements=2,
                    notes="Process design and drafting support for IGAD-led negotiations: agendas, "
                    "transitional arrangements, implementation matrices and timelines.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=("ceasefire_security", "security_sector_reform", "ddr"),
                    countries=("SS", "SD", "SO"),
                    regions=("eastern_africa",),
                    languages=("en", "ar"),
                    lead_time_days=14,
                    concurrent_engagements=2,
                    notes="Security arrangements advisers: cantonment, unification of forces, ceasefire "
                    "monitoring and verification.",
                ),
                CapacitySpec(
                    "technical_support",
                    themes=("civil_society_youth", "gender_inclusion"),
                    regions=("eastern_africa",),
                    languages=("en", "ar", "so", "am"),
                    lead_time_days=21,
                    concurrent_engagements=2,
                    notes="Secretariat, logistics and venues for negotiation rounds; support to women's "
                    "and youth delegations.",
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("local_mediation",),
                    regions=("eastern_africa",),
                    languages=("en", "fr", "sw", "am", "so", "ar"),
                    lead_time_days=45,
                    concurrent_engagements=2,
                    notes="Mediation training for IGAD staff, member states' officials and roster members.",
                ),
            ),
        ),
        OfficeSpec(
            name="CEWARN Cross-Border Mediation Desk",
            parent_structure="Conflict Early Warning and Response Mechanism (CEWARN), IGAD (Addis Ababa)",
            mandate="Links early warning to response in pastoralist border areas: supports local peace "
            "committees and cross-border dialogues over cattle raiding, water and grazing.",
            staff_size=3,
            role_mailbox="cewarn@igad.example.org",
            capacities=(
                CapacitySpec(
                    "thematic_expertise",
                    themes=("transhumance", "local_mediation", "early_warning", "natural_resources"),
                    countries=("ET", "KE", "SO", "SS", "UG"),
                    regions=("eastern_africa",),
                    languages=("en", "sw", "am", "so", "om"),
                    lead_time_days=14,
                    concurrent_engagements=3,
                    notes="Cross-border dialogues between pastoralist communities in the Karamoja and "
                    "Somali clusters; rapid response to cattle raids.",
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("local_mediation", "peace_infrastructures"),
                    regions=("eastern_africa",),
                    languages=("en", "sw", "am", "so"),
                    lead_time_days=30,
                    concurrent_engagements=2,
                    notes="Training for local peace committees and field monitors.",
                ),
            ),
        ),
    ),
    "oas": (
        OfficeSpec(
            name="Department of Sustainable Democracy and Special Missions",
            parent_structure="Secretariat for Strengthening Democracy, OAS General Secretariat "
            "(Washington, DC)",
            mandate="Supports the Secretary General's political missions and dialogue processes in member "
            "states: dialogue facilitation, conflict analysis and early response, national capacities "
            "for dialogue, and the accompaniment of peace agreement implementation by field missions.",
            staff_size=10,
            role_mailbox="dsdsm@oas.example.org",
            capacities=(
                CapacitySpec(
                    "process_design",
                    themes=("national_dialogue", "electoral_violence"),
                    countries=("HT", "BO", "HN", "GT", "VE", "CO", "EC", "PE"),
                    regions=("latin_america_caribbean",),
                    languages=("es", "en", "fr", "pt", "ht"),
                    lead_time_days=14,
                    concurrent_engagements=3,
                    notes="Design and facilitation of political dialogues between governments, parties "
                    "and civil society; post-electoral crises.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=("agreement_implementation", "transitional_justice", "ddr", "land"),
                    countries=("CO",),
                    regions=("south_america",),
                    languages=("es", "en"),
                    lead_time_days=21,
                    concurrent_engagements=2,
                    notes="Accompaniment of peace agreement implementation in the territories: land, "
                    "reintegration of former combatants, participation of victims.",
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("local_mediation", "civil_society_youth", "gender_inclusion"),
                    regions=("latin_america_caribbean",),
                    languages=("es", "en", "pt", "fr"),
                    lead_time_days=45,
                    concurrent_engagements=3,
                    notes="Dialogue and conflict management training for public officials, community "
                    "leaders and indigenous authorities.",
                ),
                CapacitySpec(
                    "conflict_analysis",
                    themes=("early_warning", "transnational_crime", "minorities"),
                    regions=("central_america", "south_america", "caribbean"),
                    languages=("es", "en"),
                    lead_time_days=10,
                    concurrent_engagements=2,
                    notes="Analysis of social conflict and early response, including socio-environmental "
                    "conflicts and indigenous peoples' territories.",
                ),
            ),
        ),
    ),
    "oic": (
        OfficeSpec(
            name="Peace, Security and Mediation Unit",
            parent_structure="Cabinet of the Secretary General, OIC General Secretariat (Jeddah)",
            mandate="Supports the Secretary General's good offices, special envoys and contact groups on "
            "situations affecting member states and Muslim communities. Still exploring how to "
            "institutionalise mediation support, as the 2018 workshop noted; works in partnership with "
            "the UN and regional organisations, including on the role of religious leaders and "
            "scholars in mediation.",
            staff_size=3,
            role_mailbox="psmu@oic.example.org",
            capacities=(
                CapacitySpec(
                    "advisory_support",
                    themes=("religion", "humanitarian_mediation"),
                    countries=("AF", "YE", "SO", "ML", "LY", "PH", "MM"),
                    regions=("western_asia", "southern_asia", "western_africa", "south_eastern_asia"),
                    languages=("ar", "en", "fr"),
                    lead_time_days=21,
                    concurrent_engagements=2,
                    notes="Support to special envoys and contact groups; engagement of religious leaders "
                    "and scholars in peace processes.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=("religion", "civil_society_youth"),
                    regions=("africa", "asia"),
                    languages=("ar", "en", "fr", "ur", "id", "tr"),
                    lead_time_days=30,
                    concurrent_engagements=1,
                    notes="Religious dimensions of conflict and faith-based mediation; intra-faith dialogue.",
                    confirmed_days_ago=200,
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("religion", "gender_inclusion"),
                    regions=("africa", "asia"),
                    languages=("ar", "en", "fr"),
                    lead_time_days=60,
                    concurrent_engagements=1,
                    notes="Mediation courses for OIC staff and member states' diplomats, with partners.",
                ),
            ),
        ),
    ),
    "osce": (
        OfficeSpec(
            name="Mediation Support Team",
            parent_structure="Operations Service, Conflict Prevention Centre, OSCE Secretariat (Vienna)",
            mandate="Supports the Chairpersonship, special representatives and field operations in conflict "
            "prevention, crisis management and settlement processes across the OSCE area: process "
            "design and facilitation advice, dialogue facilitation, mediation training and guidance on "
            "the inclusion of women and on confidence-building measures.",
            staff_size=7,
            role_mailbox="mst@osce.example.org",
            capacities=(
                CapacitySpec(
                    "process_design",
                    themes=("confidence_building", "multi_track", "minorities"),
                    countries=("MD", "GE", "AM", "AZ", "UA", "BA"),
                    regions=("eastern_europe", "southern_europe", "western_asia", "central_asia"),
                    languages=("en", "ru", "fr", "de"),
                    lead_time_days=10,
                    concurrent_engagements=3,
                    notes="Process design and facilitation advice for settlement formats and their "
                    "working groups; linking official talks with civil society dialogue.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=("confidence_building", "ceasefire_security", "humanitarian_mediation"),
                    countries=("UA", "GE", "MD", "AZ", "AM"),
                    regions=("eastern_europe", "western_asia"),
                    languages=("en", "ru", "uk"),
                    lead_time_days=14,
                    concurrent_engagements=2,
                    notes="Incident prevention and response mechanisms, local ceasefires and crossing "
                    "points, humanitarian questions.",
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("gender_inclusion", "local_mediation"),
                    regions=("europe", "central_asia"),
                    languages=("en", "ru"),
                    lead_time_days=60,
                    concurrent_engagements=3,
                    notes="Mediation and dialogue facilitation courses for staff of the executive "
                    "structures and national officials; networks of women mediators.",
                ),
                CapacitySpec(
                    "conflict_analysis",
                    themes=("early_warning", "natural_resources"),
                    countries=("KG", "TJ", "UZ", "KZ", "TM"),
                    regions=("central_asia",),
                    languages=("ru", "en", "ky", "tg", "uz"),
                    lead_time_days=14,
                    concurrent_engagements=2,
                    notes="Analysis of cross-border water and border-delimitation tensions; early "
                    "warning from field operations.",
                ),
            ),
        ),
        OfficeSpec(
            name="Mediation Support Focal Points (field operations)",
            parent_structure="Field operations in South-Eastern Europe, Eastern Europe, the South Caucasus "
            "and Central Asia, coordinated by the Conflict Prevention Centre",
            mandate="Internal network of mediation support focal points in field operations: shares "
            "practice and asks the Mediation Support Team for backstopping. Not shared with the network.",
            staff_size=2,
            role_mailbox="focal-points@osce.example.org",
            sharing="private",
            capacities=(
                CapacitySpec(
                    "technical_support",
                    themes=("local_mediation", "minorities"),
                    countries=("BA", "RS", "MK", "ME", "AL", "KG", "TJ", "MD"),
                    regions=("southern_europe", "central_asia", "eastern_europe"),
                    languages=("en", "ru", "sr", "bs", "sq"),
                    lead_time_days=7,
                    concurrent_engagements=4,
                    notes="Facilitation and logistics for local dialogues run by field operations.",
                    sharing="private",
                ),
                CapacitySpec(
                    "knowledge_management",
                    languages=("en", "ru"),
                    lead_time_days=30,
                    concurrent_engagements=1,
                    notes="Lessons learned from field operations' dialogue work, for internal use.",
                    sharing="private",
                ),
            ),
        ),
    ),
    "un": (
        OfficeSpec(
            name="Mediation Support Unit",
            parent_structure="Policy and Mediation Division, Department of Political and Peacebuilding "
            "Affairs (DPPA, New York)",
            mandate="Provides advisory, financial and logistical support to the peace processes of the "
            "Secretary-General's envoys and special representatives and of regional partners: process "
            "design, thematic expertise, mediation training, the Standby Team of Senior Mediation "
            "Advisers and the UN's mediation knowledge base. Works with regional and subregional "
            "organisations through joint trainings, staff exchanges and partnership frameworks.",
            staff_size=16,
            role_mailbox="msu@un.example.org",
            capacities=(
                CapacitySpec(
                    "process_design",
                    themes=("national_dialogue", "gender_inclusion", "multi_track", "civil_society_youth"),
                    regions=GLOBAL,
                    languages=("en", "fr", "ar", "es", "ru"),
                    lead_time_days=10,
                    concurrent_engagements=6,
                    notes="Process design advice for envoys and their teams from the earliest stage: "
                    "options papers, sequencing, inclusion mechanisms and consultative formats; remotely "
                    "or in the field.",
                ),
                CapacitySpec(
                    "capacity_building",
                    themes=("gender_inclusion", "media_communication"),
                    regions=GLOBAL,
                    languages=("en", "fr", "es", "ar"),
                    lead_time_days=60,
                    concurrent_engagements=4,
                    notes="Mediation and process design trainings for envoys, mission staff and partner "
                    "organisations; seminars on gender and inclusive mediation strategies; joint courses "
                    "with regional organisations.",
                ),
                CapacitySpec(
                    "knowledge_management",
                    themes=("agreement_implementation", "ceasefire_security"),
                    regions=GLOBAL,
                    languages=("en", "fr"),
                    lead_time_days=21,
                    concurrent_engagements=3,
                    notes="Guidance notes, lessons-learned studies and the peace agreements database; "
                    "briefing packs for newly appointed envoys.",
                    sharing="public",
                ),
                CapacitySpec(
                    "envoy_handover",
                    regions=GLOBAL,
                    languages=("en", "fr", "ar"),
                    lead_time_days=7,
                    concurrent_engagements=4,
                    notes="Induction briefings for newly appointed envoys and handover retreats between "
                    "outgoing and incoming envoys.",
                ),
            ),
        ),
        OfficeSpec(
            name="Standby Team of Senior Mediation Advisers",
            parent_structure="Mediation Support Unit, Policy and Mediation Division, DPPA",
            mandate="Senior advisers on call to deploy within 72 hours to UN and partner mediation efforts, "
            "in person or remotely, covering process design, ceasefire and security arrangements, "
            "constitution making and power sharing, natural resources, gender and inclusion, and "
            "media and communication.",
            staff_size=8,
            role_mailbox="standby-team@un.example.org",
            capacities=(
                CapacitySpec(
                    "thematic_expertise",
                    themes=("ceasefire_security", "ddr", "armed_groups"),
                    regions=GLOBAL,
                    languages=("en", "fr", "ar", "ru"),
                    lead_time_days=3,
                    concurrent_engagements=3,
                    notes="Ceasefire and security arrangements: drafting of ceasefire texts, monitoring "
                    "and verification mechanisms; deployable within 72 hours.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=("constitution_making", "power_sharing"),
                    regions=GLOBAL,
                    languages=("en", "fr", "es"),
                    lead_time_days=3,
                    concurrent_engagements=2,
                    notes="Constitution making and power sharing: options, comparative practice, "
                    "sequencing of constitutional processes.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=("gender_inclusion", "civil_society_youth"),
                    regions=GLOBAL,
                    languages=("en", "fr", "ar", "es"),
                    lead_time_days=3,
                    concurrent_engagements=3,
                    notes="Gender and inclusion: women's participation in delegations and consultations, "
                    "gender provisions in agreements.",
                ),
                CapacitySpec(
                    "thematic_expertise",
                    themes=("natural_resources", "land", "transhumance"),
                    regions=GLOBAL,
                    languages=("en", "fr"),
                    lead_time_days=5,
                    concurrent_engagements=2,
                    notes="Natural resources, land and transhumance in peace processes: resource sharing, "
                    "local agreements, links to national talks.",
                ),
                CapacitySpec(
                    "process_design",
                    themes=("national_dialogue", "media_communication"),
                    regions=GLOBAL,
                    languages=("en", "fr", "ar"),
                    lead_time_days=3,
                    concurrent_engagements=2,
                    notes="Process design for national dialogues, with media mapping and a communication "
                    "strategy for the mediation; countering rumours.",
                ),
            ),
        ),
    ),
}


# --- the roster ----------------------------------------------------------------------------

#: A family name that differs between men and women (Slavic, Central Asian) as (male, female).
Family = str | tuple[str, str]


@dataclass(frozen=True)
class NameGroup:
    """People of these nationalities are named from these lists."""

    countries: tuple[str, ...]
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[Family, ...]
    two_family_names: bool = False  # the Spanish and Portuguese custom
    home_languages: tuple[str, ...] = ()  # instead of COUNTRY_LANGUAGES (India is not all Hindi)
    lingua_francas: tuple[str, ...] = ()  # instead of the region's


@dataclass(frozen=True)
class RegionPool:
    label: str
    groups: tuple[NameGroup, ...]
    experience: tuple[str, ...]  # countries (ISO 3166-1) and M49 regions worked in
    themes: tuple[str, ...]  # the likelier first
    lingua_francas: tuple[str, ...]  # languages learnt besides those of the home country
    affiliations: tuple[str, ...]
    past_processes: tuple[str, ...]


#: The languages of a nationality: the first language first, then others commonly used there.
COUNTRY_LANGUAGES: dict[str, tuple[str, ...]] = {
    # West and Central Africa
    "ML": ("bm", "fr", "ff"),
    "BF": ("mos", "fr", "dyu"),
    "NE": ("ha", "fr", "dje"),
    "SN": ("wo", "fr", "ff"),
    "GN": ("ff", "fr"),
    "CI": ("fr", "dyu"),
    "TD": ("ar", "fr"),
    "TG": ("ee", "fr"),
    "BJ": ("fr", "yo"),
    "CM": ("fr", "en"),
    "CF": ("sg", "fr"),
    "CG": ("fr", "ln"),
    "CD": ("ln", "fr", "sw"),
    "GA": ("fr",),
    "NG": ("en", "ha", "yo", "ig"),
    "GH": ("en", "ak", "ee"),
    "SL": ("en", "kri", "tem", "men"),
    "GM": ("en", "mnk", "wo"),
    "LR": ("en",),
    # East Africa and the Horn
    "ET": ("am", "en", "om", "ti"),
    "ER": ("ti", "ar", "en", "tig"),
    "SO": ("so", "ar", "en", "it"),
    "DJ": ("so", "fr", "ar", "aa"),
    "KE": ("sw", "en", "ki", "luo"),
    "UG": ("lg", "en", "sw"),
    "TZ": ("sw", "en"),
    "RW": ("rw", "fr", "en", "sw"),
    "BI": ("rn", "fr", "sw"),
    "SD": ("ar", "en"),
    "SS": ("din", "en", "ar", "nus"),
    # North Africa and the Middle East
    "MA": ("ar", "fr", "zgh", "es"),
    "DZ": ("ar", "fr", "kab"),
    "TN": ("ar", "fr", "it"),
    "LY": ("ar", "en", "it"),
    "EG": ("ar", "en", "fr"),
    "JO": ("ar", "en"),
    "LB": ("ar", "fr", "en"),
    "SY": ("ar", "en", "fr", "ku"),
    "IQ": ("ar", "en", "ckb"),
    "YE": ("ar", "en"),
    "PS": ("ar", "en"),
    "TR": ("tr", "en", "ar"),
    # Europe
    "SE": ("sv", "en", "de", "fr"),
    "NO": ("nb", "en", "fr"),
    "FI": ("fi", "sv", "en", "ru"),
    "DK": ("da", "en", "de"),
    "DE": ("de", "en", "fr", "ar"),
    "AT": ("de", "en", "fr"),
    "CH": ("de", "fr", "it", "en"),
    "NL": ("nl", "en", "fr", "de"),
    "BE": ("fr", "nl", "en"),
    "FR": ("fr", "en", "es", "ar"),
    "ES": ("es", "en", "fr", "ca", "pt"),
    "PT": ("pt", "en", "es", "fr"),
    "IT": ("it", "en", "fr", "es"),
    "MT": ("mt", "en", "it", "ar"),
    "GB": ("en", "fr", "es", "ar"),
    "IE": ("en", "ga", "fr", "es"),
    "PL": ("pl", "en", "ru", "uk"),
    "RO": ("ro", "en", "fr"),
    "MD": ("ro", "ru", "en"),
    "UA": ("uk", "ru", "en"),
    "BA": ("bs", "en", "de"),
    "RS": ("sr", "en", "ru"),
    "HR": ("hr", "en", "de"),
    # Central Asia and Caucasus
    "KZ": ("kk", "ru", "en"),
    "KG": ("ky", "ru", "en"),
    "TJ": ("tg", "ru", "en", "fa"),
    "UZ": ("uz", "ru", "en"),
    "TM": ("tk", "ru", "en"),
    "GE": ("ka", "ru", "en"),
    "AM": ("hy", "ru", "en", "fr"),
    "AZ": ("az", "ru", "en", "tr"),
    # Latin America and the Caribbean
    "CO": ("es", "en"),
    "VE": ("es", "en"),
    "PE": ("es", "qu", "en"),
    "BO": ("es", "qu", "ay", "en"),
    "EC": ("es", "qu", "en"),
    "GT": ("es", "quc", "en"),
    "HN": ("es", "en"),
    "SV": ("es", "en"),
    "MX": ("es", "en", "fr"),
    "AR": ("es", "en", "pt", "it"),
    "CL": ("es", "en"),
    "UY": ("es", "pt", "en"),
    "PY": ("es", "gn", "en"),
    "PA": ("es", "en"),
    "CR": ("es", "en"),
    "DO": ("es", "en"),
    "BR": ("pt", "es", "en"),
    "JM": ("en", "es"),
    "TT": ("en", "es"),
    "GY": ("en", "es", "pt"),
    "BB": ("en",),
    "BZ": ("en", "es"),
    "HT": ("ht", "fr", "en", "es"),
    # South and South-East Asia
    "IN": ("hi", "en"),
    "PK": ("ur", "en", "pa", "ps"),
    "BD": ("bn", "en"),
    "AF": ("prs", "ps", "en"),
    "LK": ("si", "ta", "en"),
    "NP": ("ne", "en", "hi"),
    "ID": ("id", "en", "ar"),
    "MY": ("ms", "en", "ar"),
    "PH": ("tl", "en", "ceb"),
}

#: Plain names for prose where the ISO name reads awkwardly ("Congo, The Democratic Republic of the").
COUNTRY_NAMES: dict[str, str] = {
    "CD": "the Democratic Republic of the Congo",
    "CG": "the Republic of the Congo",
    "CF": "the Central African Republic",
    "TZ": "Tanzania",
    "VE": "Venezuela",
    "BO": "Bolivia",
    "MD": "Moldova",
    "SY": "Syria",
    "PS": "Palestine",
    "GB": "the United Kingdom",
    "NL": "the Netherlands",
    "PH": "the Philippines",
    "GM": "the Gambia",
    "DO": "the Dominican Republic",
}
LANGUAGE_NAMES: dict[str, str] = {
    "mos": "Mooré",
    "ff": "Fula",
    "men": "Mende",
    "tem": "Temne",
    "lg": "Luganda",
    "rn": "Kirundi",
    "luo": "Dholuo",
    "ky": "Kyrgyz",
    "ht": "Haitian Creole",
    "ps": "Pashto",
    "nb": "Norwegian",
    "zgh": "Tamazight",
    "pa": "Punjabi",
}

#: Combinations the pools could produce that name well-known people: never generated (for two family
#: names, the given name with the first family name counts too).
BLOCKED_NAMES = frozenset(
    {
        "Boubacar Traoré",
        "Ibrahima Traoré",
        "Kadiatou Diallo",
        "Emeka Okafor",
        "Kwame Appiah",
        "Hassan Ali",
        "Ahmed Abdi",
        "Alistair Campbell",
        "Mariam Petrosyan",
        "Femi Adebayo",
        "Kwesi Appiah",
        "Peter Kimani",
        "Garang Kuol",
        "Sami Trabelsi",
        "Burak Yılmaz",
        "Marco Rossi",
        "James Murphy",
        "Piotr Nowak",
        "Nigel Clarke",
        "Rohan Joshi",
        "Kamran Abbasi",
        "Saiful Islam",
        "Tigran Petrosyan",
        "Pablo Iglesias",
        "Rui Costa",
        "João Sousa",
    }
)


def _names(text: str) -> tuple[Family, ...]:
    """Names from a comma-separated list; "Abenov/Abenova" is a family name with a male and a female form."""
    return tuple(_forms(name.strip()) for name in text.split(","))


def _forms(name: str) -> Family:
    male, _, female = name.partition("/")
    return (male, female) if female else male


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


WEST_CENTRAL_AFRICA = RegionPool(
    label="West and Central Africa",
    groups=(
        NameGroup(
            countries=_codes("ML GN CI"),
            female=_names("Aminata, Fatoumata, Mariam, Kadiatou, Awa, Djeneba, Salimata, Oumou, Kani, Nana"),
            male=_names(
                "Oumar, Boubacar, Ibrahima, Seydou, Souleymane, Mamadou, Abdoulaye, Lassina, Cheick, Yacouba"
            ),
            family=_names(
                "Traoré, Diallo, Coulibaly, Koné, Camara, Sangaré, Cissé, Dembélé, Fofana, Sidibé, Diakité, Bah, "
                "Barry, Doumbia, Konaté, Bamba, Sylla"
            ),
            lingua_francas=_codes("en ar"),
        ),
        NameGroup(
            countries=_codes("BF"),
            female=_names("Aminata, Salimata, Assétou, Rasmata, Awa, Alizéta, Safiatou"),
            male=_names("Issa, Adama, Lassina, Souleymane, Boukary, Ousséni, Hamidou"),
            family=_names(
                "Ouédraogo, Sawadogo, Kaboré, Zongo, Ilboudo, Kiemdé, Zoungrana, Nikiéma, Sanou, Tapsoba"
            ),
            lingua_francas=_codes("en ar"),
        ),
        NameGroup(
            countries=_codes("SN"),
            female=_names("Fatou, Aïssatou, Ndèye, Khady, Coumba, Mame Diarra, Astou"),
            male=_names("Cheikh, Ousmane, Modou, Moustapha, Pape, Babacar, Alioune"),
            family=_names("Ndiaye, Diop, Sow, Fall, Gueye, Faye, Mbaye, Sarr, Ba, Thiam, Ndour"),
            lingua_francas=_codes("en ar"),
        ),
        NameGroup(
            countries=_codes("NE"),
            female=_names("Ramatou, Haoua, Zeinabou, Hadiza, Mariama, Balkissa"),
            male=_names("Hamidou, Abdoulaye, Moussa, Seydou, Oumarou, Mahamadou, Boubacar"),
            family=_names("Maïga, Hama, Garba, Souley, Harouna, Amadou, Abdou, Yacouba, Mounkaïla"),
            lingua_francas=_codes("en ar"),
        ),
        NameGroup(
            countries=_codes("TD"),
            female=_names("Achta, Khadidja, Fatimé, Zenaba, Haoua, Amina"),
            male=_names("Mahamat, Abakar, Hassane, Brahim, Ahmat, Adoum"),
            family=_names("Abakar, Djibrine, Haroun, Brahim, Ahmat, Hassaballah, Zakaria, Adoum, Mahamat"),
            lingua_francas=_codes("en"),
        ),
        NameGroup(
            countries=_codes("CM"),
            female=_names("Chantal, Nadège, Odile, Clarisse, Solange, Estelle, Rosine, Pélagie, Brigitte"),
            male=_names("Didier, Serge, Armel, Hervé, Patrice, Achille, Thierry, Aristide, Blaise"),
            family=_names("Essomba, Mvondo, Atangana, Fotso, Tchinda, Ngono, Mbarga, Nana, Tchoupo, Owona"),
            lingua_francas=_codes("en"),
        ),
        NameGroup(
            countries=_codes("CF"),
            female=_names("Marie-Claire, Odile, Clarisse, Béatrice, Gisèle, Pélagie, Yolande"),
            male=_names("Jean-Pierre, Prosper, Fulbert, Gervais, Aristide, Hervé, Thierry"),
            family=_names(
                "Namsio, Gbadin, Kossingou, Ngaïbona, Zoumaldé, Yangongo, Ngoumbango, Kolaba, Sélého"
            ),
            lingua_francas=_codes("en ar"),
        ),
        NameGroup(
            countries=_codes("CD CG"),
            female=_names("Marie-Claire, Chantal, Béatrice, Solange, Estelle, Yolande, Gisèle, Clarisse"),
            male=_names("Jean-Pierre, Didier, Serge, Prosper, Ghislain, Patrice, Fulbert, Gervais"),
            family=_names(
                "Ngoma, Mabiala, Nzeza, Mbala, Lukusa, Kabongo, Ilunga, Mukendi, Nsimba, Makosso, Massamba, "
                "Mulumba, Kalonji"
            ),
            lingua_francas=_codes("en sw"),
        ),
        NameGroup(
            countries=_codes("GA"),
            female=_names("Chantal, Nadège, Estelle, Rosine, Brigitte, Gisèle"),
            male=_names("Serge, Armel, Ghislain, Hervé, Patrice, Achille"),
            family=_names("Moussavou, Mintsa, Ondo, Mba, Nze, Boussougou, Mouele, Ndong"),
            lingua_francas=_codes("en es"),
        ),
        NameGroup(
            countries=_codes("NG"),
            female=_names("Hauwa, Zainab, Hadiza, Aisha, Rakiya"),
            male=_names("Aliyu, Ibrahim, Sani, Musa, Kabiru"),
            family=_names("Abubakar, Bello, Usman, Danladi, Garba, Lawal, Sule"),
            home_languages=_codes("ha en ar"),
            lingua_francas=_codes("fr ar"),
        ),
        NameGroup(
            countries=_codes("NG"),
            female=_names("Funmilayo, Yewande, Folake, Adebola, Titilayo"),
            male=_names("Oluwaseun, Babatunde, Tunde, Femi, Kayode"),
            family=_names("Adeyemi, Adebayo, Ogunleye, Oladipo, Adewale, Bamidele"),
            home_languages=_codes("yo en"),
            lingua_francas=_codes("fr"),
        ),
        NameGroup(
            countries=_codes("NG"),
            female=_names("Ngozi, Adaeze, Chiamaka, Nneka, Uchenna"),
            male=_names("Chinedu, Emeka, Obinna, Ikenna, Chukwuemeka"),
            family=_names("Okafor, Eze, Nwosu, Nwachukwu, Okonkwo, Nnadi"),
            home_languages=_codes("ig en"),
            lingua_francas=_codes("fr"),
        ),
        NameGroup(
            countries=_codes("GH"),
            female=_names("Akosua, Abena, Efua, Ama, Adwoa, Esi"),
            male=_names("Kwame, Kofi, Yaw, Kwabena, Kwesi, Kojo"),
            family=_names("Mensah, Owusu, Asante, Appiah, Ofori, Boateng, Agyeman, Osei, Tetteh"),
            lingua_francas=_codes("fr"),
        ),
        NameGroup(
            countries=_codes("SL GM LR"),
            female=_names("Fatmata, Musu, Isatou, Mariatu, Haddy, Kadiatu"),
            male=_names("Sahr, Lamin, Alieu, Momodou, Foday, Ebrima"),
            family=_names("Kamara, Sesay, Jallow, Ceesay, Bojang, Conteh, Bangura, Touray, Njie, Kollie"),
            lingua_francas=_codes("fr ar"),
        ),
    ),
    experience=_codes("ML BF NE TD CF CM CD CG CI GN NG SN GH SL LR western_africa middle_africa"),
    themes=_codes(
        "local_mediation transhumance national_dialogue armed_groups ceasefire_security electoral_violence "
        "natural_resources religion ddr gender_inclusion agreement_implementation civil_society_youth "
        "early_warning transnational_crime"
    ),
    lingua_francas=_codes("fr en ar ha"),
    affiliations=(
        "Institut sahélien d'études pour la paix (Bamako)",
        "Lake Chad Basin Dialogue Centre (N'Djamena)",
        "Observatoire des conflits en Afrique centrale (Yaoundé)",
        "West African Forum of Women Mediators",
        "Réseau sahélien des médiateurs communautaires",
        "Gulf of Guinea Peace Institute (Accra)",
        "Centre d'analyse des conflits du bassin du Congo (Kinshasa)",
        "Savanna Peacebuilding Network",
        "Faculté de droit, Université des Deux Rives",
    ),
    past_processes=(
        "Central African Republic national dialogue (2019)",
        "Central African Republic Bangui Forum (2015)",
        "Mali inter-Malian dialogue (2015)",
        "Chad inclusive national dialogue (2022)",
        "Burkina Faso local dialogues on transhumance (2021)",
        "Lake Chad Basin community dialogues (2020)",
        "Côte d'Ivoire post-electoral reconciliation (2012)",
        "Guinea national consultations (2021)",
        "Cameroon North-West and South-West consultations (2019)",
        "Democratic Republic of the Congo provincial peace conferences (2018)",
        "Niger cross-border peace committees (2017)",
        "Nigeria Middle Belt farmer–herder dialogues (2018)",
    ),
)

EAST_AFRICA_HORN = RegionPool(
    label="East Africa and the Horn",
    groups=(
        NameGroup(
            countries=_codes("ET ER"),
            female=_names("Selamawit, Meron, Hiwot, Mekdes, Tsion, Almaz, Rahel, Senait, Bethlehem"),
            male=_names("Dawit, Yohannes, Bereket, Girma, Kidane, Abebe, Getachew, Tewodros, Yonas"),
            family=_names(
                "Tesfaye, Alemu, Gebremedhin, Kebede, Tadesse, Wolde, Asfaw, Berhane, Desta, Woldemariam, Ayele, "
                "Haile, Negash, Mulugeta"
            ),
            lingua_francas=_codes("en ar fr"),
        ),
        NameGroup(
            countries=_codes("SO DJ"),
            female=_names("Hodan, Fartun, Sahra, Faduma, Ifrah, Nasra, Hamdi, Ubah, Asha"),
            male=_names("Abdirahman, Abdullahi, Hassan, Abdiweli, Ahmed, Ismail, Mustafe, Liban, Guled"),
            family=_names("Warsame, Abdi, Jama, Osman, Ali, Hussein, Nur, Dualeh, Aden, Farah, Elmi"),
            lingua_francas=_codes("en ar fr it"),
        ),
        NameGroup(
            countries=_codes("KE"),
            female=_names("Grace, Esther, Wanjiru, Achieng, Njeri, Akinyi, Faith, Mercy, Wairimu, Nafula"),
            male=_names("Joseph, Peter, Samuel, Daniel, Kiprotich, Brian, Dennis, Geoffrey"),
            family=_names(
                "Ochieng, Mutua, Kariuki, Wambua, Njoroge, Odhiambo, Kamau, Mwangi, Otieno, Kiplagat, Wekesa, "
                "Cheruiyot, Onyango, Kimani"
            ),
            lingua_francas=_codes("en sw fr"),
        ),
        NameGroup(
            countries=_codes("UG"),
            female=_names("Nakato, Nambi, Akello, Grace, Harriet, Sarah, Agnes"),
            male=_names("Kato, Okello, Moses, Emmanuel, Robert, Ronald, Isaac"),
            family=_names(
                "Nsubuga, Ssemakula, Mugisha, Byaruhanga, Tumusiime, Opio, Okello, Kiggundu, Namara"
            ),
            lingua_francas=_codes("en sw fr"),
        ),
        NameGroup(
            countries=_codes("TZ"),
            female=_names("Neema, Rehema, Zawadi, Upendo, Mwanaisha, Halima"),
            male=_names("Baraka, Juma, Musa, Elia, Salim, Hamisi"),
            family=_names("Mwakyusa, Mushi, Massawe, Lyimo, Kisanga, Mollel, Mrema, Mwakalinga"),
            lingua_francas=_codes("en fr ar"),
        ),
        NameGroup(
            countries=_codes("RW BI"),
            female=_names("Claudine, Espérance, Consolata, Jeanne, Diane, Immaculée, Aline"),
            male=_names("Jean-Claude, Innocent, Aimable, Emmanuel, Fabrice, Théoneste, Eric"),
            family=_names(
                "Mugisha, Kagabo, Niyonzima, Habimana, Uwimana, Hakizimana, Nshimirimana, Ndikumana, Bizimana, "
                "Nsengiyumva"
            ),
            lingua_francas=_codes("fr en sw"),
        ),
        NameGroup(
            countries=_codes("SD"),
            female=_names("Amna, Nafisa, Samia, Hind, Alawia, Rania"),
            male=_names("Osman, Khalid, Tariq, Hamid, Yasir, Elfatih"),
            family=_names("Abdelrahman, Elhassan, Babiker, Suleiman, Mahjoub, Elamin, Idris"),
            lingua_francas=_codes("en fr"),
        ),
        NameGroup(
            countries=_codes("SS"),
            female=_names("Nyandeng, Achol, Nyakim, Ajak, Abuk, Nyibol"),
            male=_names("Majok, Akech, Gatluak, Lual, Manyang, Garang"),
            family=_names("Mayen, Kuol, Malual, Chol, Gatdet, Ater, Bol, Wani"),
            lingua_francas=_codes("en sw ar"),
        ),
    ),
    experience=_codes("SS SD SO ET ER DJ KE UG TZ RW BI CD eastern_africa"),
    themes=_codes(
        "power_sharing ceasefire_security agreement_implementation local_mediation transhumance land "
        "peace_infrastructures constitution_making gender_inclusion early_warning security_sector_reform "
        "natural_resources civil_society_youth"
    ),
    lingua_francas=_codes("en sw ar fr"),
    affiliations=(
        "Horn of Africa Dialogue Institute (Addis Ababa)",
        "Great Lakes Peace and Reconciliation Centre (Kigali)",
        "Institute for Pastoralist Peace (Moyale)",
        "East African Women in Mediation Forum",
        "Centre for Constitutional Studies, Lakeview University",
        "Somali Peace Research Circle (Mogadishu)",
        "Nile Valley Centre for Dialogue (Khartoum)",
    ),
    past_processes=(
        "South Sudan High-Level Revitalisation Forum (2018)",
        "Sudan transitional arrangements talks (2019)",
        "Somalia national consultative council support (2021)",
        "Ethiopia–Eritrea normalisation support (2018)",
        "Kenya county peace committees (2017)",
        "Burundi inter-Burundian dialogue (2016)",
        "Uganda–South Sudan cross-border dialogue (2019)",
        "Ethiopia cessation of hostilities implementation (2022)",
        "Karamoja cluster cross-border peace meetings (2020)",
        "Somalia federal–state dialogue (2020)",
    ),
)

NORTH_AFRICA_MIDDLE_EAST = RegionPool(
    label="North Africa and the Middle East",
    groups=(
        NameGroup(
            countries=_codes("MA DZ TN"),
            female=_names("Salma, Nadia, Leila, Amira, Imane, Samira, Meriem, Houda, Asma"),
            male=_names("Youssef, Karim, Mehdi, Sami, Rachid, Hichem, Anouar, Walid, Nabil"),
            family=_names(
                "Benali, Bensaïd, Haddad, Cherif, Mansouri, Belkacem, Trabelsi, Jaziri, Lahlou, Bouzid, Chaouch, "
                "El Idrissi, Ben Amor, Zitouni, Gharbi, Berrada"
            ),
        ),
        NameGroup(
            countries=_codes("LY"),
            female=_names("Hana, Amal, Asma, Rabia, Nisreen, Huda"),
            male=_names("Abdelhakim, Osama, Anas, Salem, Tarek, Nouri"),
            family=_names("Zlitni, Sweidan, Elmisrati, Bensalem, Elfitouri, Ghanem, Elkeb, Shalabi"),
        ),
        NameGroup(
            countries=_codes("EG JO LB SY IQ YE PS"),
            female=_names("Rania, Dina, Lina, Reem, Nour, Hala, Maha, Sawsan, Dalia"),
            male=_names("Omar, Tarek, Hani, Fadi, Bassam, Ziad, Khaled, Yasser, Mazen"),
            family=_names(
                "Khoury, Haddad, Saleh, Al-Masri, Qasem, Hamdan, Al-Amin, Mansour, Barakat, Jaber, Awad, "
                "Al-Hakim, Yassin, Nassar, Shami"
            ),
        ),
        NameGroup(
            countries=_codes("TR"),
            female=_names("Elif, Ayşe, Zeynep, Selin, Deniz, Esra"),
            male=_names("Mehmet, Emre, Burak, Murat, Kerem, Onur"),
            family=_names("Yılmaz, Demir, Kaya, Şahin, Çelik, Aydın, Öztürk, Arslan, Koç"),
        ),
    ),
    experience=_codes("LY TN EG SD YE SY IQ LB JO PS northern_africa western_asia"),
    themes=_codes(
        "humanitarian_mediation religion armed_groups national_dialogue constitution_making "
        "transitional_justice ceasefire_security civil_society_youth media_communication local_mediation "
        "gender_inclusion peace_economics"
    ),
    lingua_francas=_codes("en fr"),
    affiliations=(
        "Maghreb Centre for Mediation and Dialogue (Tunis)",
        "Levant Institute for Conflict Transformation (Beirut)",
        "Gulf Dialogue Initiative",
        "Tigris Centre for Local Reconciliation (Baghdad)",
        "Nile Delta School of Public Policy",
        "Mediterranean Network of Insider Mediators",
    ),
    past_processes=(
        "Libya Political Dialogue Forum (2020)",
        "Yemen consultations on prisoner exchanges (2018)",
        "Syria constitutional committee support (2019)",
        "Iraq local reconciliation in retaken areas (2017)",
        "Tunisia national dialogue (2013)",
        "Lebanon community dialogues (2016)",
        "Libya municipal ceasefires (2016)",
        "Yemen local truce negotiations (2022)",
    ),
)

EUROPE = RegionPool(
    label="Europe",
    groups=(
        NameGroup(
            countries=_codes("SE NO DK"),
            female=_names("Ingrid, Sigrid, Astrid, Liv, Maja, Hanna, Karin"),
            male=_names("Lars, Anders, Henrik, Jonas, Erik, Mats, Magnus"),
            family=_names(
                "Lindqvist, Johansson, Nyberg, Halvorsen, Berg, Dahl, Sørensen, Lund, Eriksson, Holm"
            ),
        ),
        NameGroup(
            countries=_codes("FI"),
            female=_names("Kaisa, Elina, Aino, Riikka, Satu, Johanna"),
            male=_names("Tuomas, Mikko, Juha, Antti, Jari, Ville"),
            family=_names("Virtanen, Korhonen, Mäkinen, Nieminen, Heikkinen, Laine, Koskinen"),
        ),
        NameGroup(
            countries=_codes("DE AT CH"),
            female=_names("Katharina, Anna, Lena, Judith, Miriam, Ulrike, Franziska"),
            male=_names("Matthias, Stefan, Tobias, Florian, Jörg, Bastian, Lukas"),
            family=_names("Becker, Hofmann, Schneider, Wagner, Braun, Keller, Vogel, Lehmann, Huber, Brandt"),
        ),
        NameGroup(
            countries=_codes("NL"),
            female=_names("Sanne, Femke, Lotte, Marieke, Anouk"),
            male=_names("Pieter, Joost, Bram, Thijs, Jeroen"),
            family=_names("de Vries, Jansen, Visser, Bakker, Smit, de Boer, Mulder, van Dijk"),
        ),
        NameGroup(
            countries=_codes("FR BE CH"),
            female=_names("Claire, Camille, Sophie, Élise, Hélène, Margaux, Anne-Laure, Céline"),
            male=_names("Antoine, Julien, Mathieu, Nicolas, Guillaume, Olivier, Benoît, Arnaud"),
            family=_names(
                "Lefèvre, Moreau, Girard, Fontaine, Rousseau, Chevalier, Lambert, Bonnet, Mercier, Faure, "
                "Rolland, Perrin, Marchand"
            ),
        ),
        NameGroup(
            countries=_codes("ES"),
            female=_names("Lucía, Marta, Elena, Carmen, Nuria, Irene"),
            male=_names("Javier, Pablo, Jorge, Álvaro, Sergio, Íñigo"),
            family=_names("Moreno, Navarro, Ortega, Serrano, Iglesias, Castro, Vidal, Prieto, Soler"),
            two_family_names=True,
        ),
        NameGroup(
            countries=_codes("PT"),
            female=_names("Inês, Beatriz, Mariana, Catarina, Joana"),
            male=_names("João, Tiago, Miguel, Rui, Duarte"),
            family=_names("Ferreira, Carvalho, Sousa, Pereira, Lopes, Matos, Teixeira, Correia"),
            two_family_names=True,
        ),
        NameGroup(
            countries=_codes("IT MT"),
            female=_names("Giulia, Chiara, Francesca, Valentina, Silvia, Federica"),
            male=_names("Marco, Alessandro, Lorenzo, Matteo, Davide, Stefano"),
            family=_names("Rossi, Bianchi, Conti, Ricci, Galli, Marino, Greco, Lombardi, Farrugia"),
        ),
        NameGroup(
            countries=_codes("GB IE"),
            female=_names("Fiona, Siobhan, Rachel, Hannah, Niamh, Eleanor, Aoife, Harriet"),
            male=_names("James, Thomas, Ciarán, Owen, Alistair, Rory, Declan, Edmund"),
            family=_names(
                "Walsh, Murphy, Campbell, Hughes, Fletcher, Gallagher, Price, Doyle, Morrison, Whitfield, "
                "Ashworth, Byrne, Lowther"
            ),
        ),
        NameGroup(
            countries=_codes("PL"),
            female=_names("Agnieszka, Katarzyna, Magdalena, Joanna, Marta"),
            male=_names("Tomasz, Piotr, Paweł, Michał, Krzysztof"),
            family=_names("Nowak, Wójcik, Kowalczyk, Mazur, Krawczyk, Zając, Król, Wieczorek"),
        ),
        NameGroup(
            countries=_codes("RO MD"),
            female=_names("Ioana, Elena, Raluca, Corina, Andreea"),
            male=_names("Andrei, Mihai, Radu, Bogdan, Vlad"),
            family=_names("Popescu, Ionescu, Dumitrescu, Stan, Munteanu, Ciobanu, Rusu, Lungu"),
        ),
        NameGroup(
            countries=_codes("UA"),
            female=_names("Olena, Iryna, Kateryna, Oksana, Svitlana, Halyna"),
            male=_names("Oleksandr, Dmytro, Serhiy, Yuriy, Taras, Bohdan"),
            family=_names("Kovalenko, Bondarenko, Tkachenko, Kravchenko, Melnyk, Boyko, Lysenko, Savchuk"),
        ),
        NameGroup(
            countries=_codes("BA RS HR"),
            female=_names("Ivana, Jelena, Amra, Dragana, Lejla, Maja"),
            male=_names("Marko, Nikola, Emir, Stefan, Damir, Goran"),
            family=_names("Petrović, Kovačević, Hadžić, Begović, Marić, Nikolić, Jovanović, Babić"),
        ),
    ),
    experience=_codes("UA MD GE AM AZ BA RS MK CY eastern_europe southern_europe western_asia"),
    themes=_codes(
        "confidence_building constitution_making minorities ceasefire_security media_communication "
        "digital_conflict gender_inclusion transitional_justice peace_economics multi_track power_sharing "
        "human_rights security_sector_reform"
    ),
    lingua_francas=_codes("en fr es de ru ar"),
    affiliations=(
        "Nordic Centre for Peace Mediation",
        "Alpine Institute for Negotiation",
        "Atlantic Peace Process Research Group",
        "Danube Mediation Practice",
        "School of International Affairs, University of Lowmarsh",
        "European Forum for Dialogue Facilitators",
        "Centre for Conflict and Constitutional Design",
    ),
    past_processes=(
        "Cyprus technical committees (2015)",
        "Northern Ireland community dialogue (2008)",
        "Western Balkans regional reconciliation initiative (2018)",
        "Belgrade–Pristina dialogue technical support (2013)",
        "Ukraine local dialogue platforms (2016)",
        "Moldova settlement confidence-building measures (2018)",
        "Basque Country disarmament verification support (2017)",
    ),
)

CENTRAL_ASIA_CAUCASUS = RegionPool(
    label="Central Asia and Caucasus",
    groups=(
        NameGroup(
            countries=_codes("KZ KG"),
            female=_names("Aigerim, Dinara, Gulnara, Aizhan, Saule, Nurgul, Asel"),
            male=_names("Nurlan, Askar, Bakyt, Yerlan, Daniyar, Azamat, Marat"),
            family=_names(
                "Abenov/Abenova, Seitkaliev/Seitkalieva, Dzhumabaev/Dzhumabaeva, Omurbekov/Omurbekova, "
                "Sadykov/Sadykova, Zhakupov/Zhakupova, Isakov/Isakova, Temirbekov/Temirbekova"
            ),
        ),
        NameGroup(
            countries=_codes("TJ"),
            female=_names("Zarina, Firuza, Nigora, Mehrangez, Shahlo"),
            male=_names("Farrukh, Jamshed, Bahodur, Firdavs, Daler"),
            family=_names(
                "Rahimov/Rahimova, Nazarov/Nazarova, Sharipov/Sharipova, Saidov/Saidova, Davlatov/Davlatova"
            ),
        ),
        NameGroup(
            countries=_codes("UZ"),
            female=_names("Dilnoza, Malika, Nodira, Gulnora, Shahnoza"),
            male=_names("Sherzod, Timur, Jasur, Bekzod, Otabek"),
            family=_names(
                "Yusupov/Yusupova, Kholmatov/Kholmatova, Umarov/Umarova, Rakhimov/Rakhimova, "
                "Ergashev/Ergasheva, Tursunov/Tursunova"
            ),
        ),
        NameGroup(
            countries=_codes("TM"),
            female=_names("Maral, Jennet, Gulshat, Ayna, Bahar"),
            male=_names("Merdan, Myrat, Dovlet, Batyr, Rovshen"),
            family=_names(
                "Annayev/Annayeva, Orazov/Orazova, Atayev/Atayeva, Charyyev/Charyyeva, Hojayev/Hojayeva"
            ),
        ),
        NameGroup(
            countries=_codes("GE"),
            female=_names("Nino, Tamar, Ketevan, Mariam, Natia, Salome"),
            male=_names("Giorgi, Levan, David, Irakli, Zurab, Lasha"),
            family=_names("Beridze, Kapanadze, Gelashvili, Lomidze, Tsiklauri, Japaridze, Chkheidze"),
        ),
        NameGroup(
            countries=_codes("AM"),
            female=_names("Anahit, Lusine, Armine, Gayane, Mariam, Siranush"),
            male=_names("Armen, Tigran, Aram, Hovhannes, Davit, Vahe"),
            family=_names("Hakobyan, Grigoryan, Petrosyan, Avetisyan, Manukyan, Harutyunyan, Mkrtchyan"),
        ),
        NameGroup(
            countries=_codes("AZ"),
            female=_names("Aysel, Leyla, Nigar, Gunel, Sevinj, Aynur"),
            male=_names("Elchin, Rashad, Farid, Orkhan, Tural, Emil"),
            family=_names(
                "Mammadov/Mammadova, Huseynov/Huseynova, Guliyev/Guliyeva, Hasanov/Hasanova, "
                "Ismayilov/Ismayilova, Rzayev/Rzayeva"
            ),
        ),
    ),
    experience=_codes("KG TJ UZ KZ TM GE AM AZ AF MD UA central_asia western_asia"),
    themes=_codes(
        "confidence_building minorities natural_resources local_mediation early_warning "
        "peace_infrastructures multi_track gender_inclusion humanitarian_mediation ceasefire_security "
        "civil_society_youth"
    ),
    lingua_francas=_codes("ru en tr de"),
    affiliations=(
        "Eurasian Dialogue Centre (Almaty)",
        "Fergana Valley Peace Network",
        "Caucasus Institute for Confidence Building (Tbilisi)",
        "Silk Road Mediation Forum",
        "Central Asian School of Governance",
    ),
    past_processes=(
        "Geneva International Discussions working groups (2016)",
        "Kyrgyzstan local crisis prevention dialogues (2012)",
        "Tajikistan–Kyrgyzstan border community dialogues (2021)",
        "South Caucasus incident prevention mechanism support (2015)",
        "Fergana Valley water-sharing dialogue (2019)",
        "Georgia–Abkhazia confidence-building projects (2014)",
    ),
)

LATIN_AMERICA_CARIBBEAN = RegionPool(
    label="Latin America and the Caribbean",
    groups=(
        NameGroup(
            countries=_codes("PE BO EC"),
            female=_names("Rosa, Ximena, Daniela, Paola, Lucía, Gabriela, Nancy, Maritza"),
            male=_names("Wilfredo, Hernán, Diego, Mauricio, Rodrigo, Edwin, Freddy, Julio"),
            family=_names(
                "Quispe, Mamani, Condori, Huamán, Choque, Rojas, Vargas, Mendoza, Paredes, Flores, Gutiérrez, "
                "Cárdenas"
            ),
            two_family_names=True,
        ),
        NameGroup(
            countries=_codes("CO VE GT HN SV MX AR CL UY PY CR PA DO"),
            female=_names(
                "Valentina, Camila, Daniela, Mariana, Paola, Lucía, Gabriela, Carolina, Natalia, Lorena, Adriana"
            ),
            male=_names(
                "Andrés, Santiago, Felipe, Diego, Alejandro, Sebastián, Mauricio, Rodrigo, Esteban, Gonzalo, Julián"
            ),
            family=_names(
                "Restrepo, Gutiérrez, Rojas, Castillo, Herrera, Vargas, Mendoza, Salazar, Cárdenas, Aguilar, "
                "Torres, Ramírez, Ortiz, Villalobos, Bustamante, Zúñiga, Cifuentes"
            ),
            two_family_names=True,
        ),
        NameGroup(
            countries=_codes("BR"),
            female=_names("Juliana, Fernanda, Luana, Beatriz, Mariana, Patrícia"),
            male=_names("Rafael, Thiago, Gustavo, Lucas, Rodrigo, Bruno"),
            family=_names("Oliveira, Santos, Pereira, Almeida, Costa, Ribeiro, Carvalho, Nascimento"),
            two_family_names=True,
        ),
        NameGroup(
            countries=_codes("JM TT GY BB BZ"),
            female=_names("Shanice, Keisha, Marcia, Andrea, Natalie, Simone"),
            male=_names("Andre, Devon, Kareem, Marlon, Nigel, Dwayne"),
            family=_names("Thompson, Ramdial, Persaud, Baptiste, Greaves, Ramsaran, Clarke, Edwards"),
        ),
        NameGroup(
            countries=_codes("HT"),
            female=_names("Nadège, Guerline, Rose-Andrée, Widline, Marie-Flore"),
            male=_names("Jean-Robert, Wesner, Frantz, Pierre-Richard, Ricot"),
            family=_names("Jean-Baptiste, Dorvil, Saint-Fleur, Augustin, Célestin, Louis-Jeune, Métellus"),
        ),
    ),
    experience=_codes(
        "CO VE BO EC PE GT HN SV HT NI MX latin_america_caribbean central_america south_america caribbean"
    ),
    themes=_codes(
        "agreement_implementation transitional_justice land gender_inclusion ddr transnational_crime "
        "electoral_violence national_dialogue civil_society_youth minorities natural_resources "
        "local_mediation"
    ),
    lingua_francas=_codes("en es pt fr"),
    affiliations=(
        "Centro Andino de Diálogo y Paz (Lima)",
        "Instituto Centroamericano de Mediación",
        "Caribbean Dialogue Network",
        "Observatorio de Implementación de Acuerdos de Paz (Bogotá)",
        "Núcleo de Estudos sobre Paz e Conflitos",
        "Red Latinoamericana de Mujeres Mediadoras",
    ),
    past_processes=(
        "Colombia peace talks, gender sub-commission (2016)",
        "Colombia agreement implementation, territorial programmes (2019)",
        "Venezuela negotiations, technical team (2021)",
        "Bolivia post-electoral dialogue (2020)",
        "Honduras national dialogue (2018)",
        "Haiti inter-party dialogue (2022)",
        "Guatemala agrarian conflict dialogues (2017)",
        "Ecuador dialogue between indigenous movements and the government (2022)",
        "Peru socio-environmental conflict dialogues (2015)",
    ),
)

SOUTH_SOUTHEAST_ASIA = RegionPool(
    label="South and South-East Asia",
    groups=(
        NameGroup(
            countries=_codes("IN"),
            female=_names("Kavita, Sunita, Neha, Pooja, Anjali, Ritu"),
            male=_names("Vikram, Sanjay, Rohan, Anil, Ajay, Amit"),
            family=_names("Verma, Mehta, Joshi, Saxena, Srivastava, Chauhan, Tiwari"),
            home_languages=_codes("hi en"),
        ),
        NameGroup(
            countries=_codes("IN"),
            female=_names("Ananya, Sudeshna, Moumita, Paromita, Rituparna"),
            male=_names("Arindam, Sourav, Debashis, Anirban, Subhajit"),
            family=_names("Banerjee, Chatterjee, Mukherjee, Sen, Bose, Ghosh"),
            home_languages=_codes("bn en hi"),
        ),
        NameGroup(
            countries=_codes("IN"),
            female=_names("Meera, Lakshmi, Deepa, Anjana, Divya"),
            male=_names("Arjun, Karthik, Rajesh, Sreekumar, Vinod"),
            family=_names("Menon, Nair, Pillai, Kurian, Varghese"),
            home_languages=_codes("ml en ta hi"),
        ),
        NameGroup(
            countries=_codes("PK"),
            female=_names("Ayesha, Sadia, Mahnoor, Hina, Saima"),
            male=_names("Kamran, Asif, Zubair, Usman, Bilal"),
            family=_names("Qureshi, Siddiqui, Malik, Baig, Chaudhry, Abbasi, Mirza"),
        ),
        NameGroup(
            countries=_codes("BD"),
            female=_names("Nusrat, Farzana, Tahmina, Sharmin, Rumana"),
            male=_names("Tanvir, Rashed, Arif, Mahbub, Saiful"),
            family=_names("Chowdhury, Rahman, Hossain, Haque, Islam, Karim, Alam"),
        ),
        NameGroup(
            countries=_codes("AF"),
            female=_names("Shabnam, Farzana, Zarghona, Nilofar, Mariam"),
            male=_names("Farhad, Naveed, Wahid, Habib, Jawed"),
            family=_names("Durrani, Popal, Sultani, Rahimi, Karimi, Wardak, Hashimi"),
        ),
        NameGroup(
            countries=_codes("LK"),
            female=_names("Nirmala, Chathurika, Dilani, Ishara"),
            male=_names("Ruwan, Dinesh, Nuwan, Chaminda"),
            family=_names("Perera, Fernando, de Silva, Gunawardena, Herath, Wijesinghe"),
        ),
        NameGroup(
            countries=_codes("NP"),
            female=_names("Sita, Anjali, Pratima, Sabina"),
            male=_names("Prakash, Suresh, Bikash, Ramesh"),
            family=_names("Gurung, Shrestha, Thapa, Rai, Tamang, Adhikari"),
        ),
        NameGroup(
            countries=_codes("ID"),
            female=_names("Dewi, Ratna, Intan, Wulan, Sri"),
            male=_names("Budi, Agus, Arif, Fadli, Dimas"),
            family=_names("Santoso, Wibowo, Hidayat, Nasution, Harahap, Siregar, Kusuma"),
        ),
        NameGroup(
            countries=_codes("MY"),
            female=_names("Nurul, Aisyah, Farah, Syafiqah, Aminah"),
            male=_names("Hafiz, Faizal, Azman, Rizal, Khairul"),
            family=_names("Ismail, Abdullah, Rahman, Hamid, Yusof, Osman"),
        ),
        NameGroup(
            countries=_codes("PH"),
            female=_names("Kristine, Rowena, Josefina, Liza, Teresa"),
            male=_names("Rodel, Jerome, Ramon, Paolo, Noel"),
            family=_names("Dela Cruz, Santos, Reyes, Bautista, Villanueva, Tan, Lidasan, Guiani"),
        ),
    ),
    experience=_codes("PH MM TH ID TL NP LK AF PK BD southern_asia south_eastern_asia"),
    themes=_codes(
        "peace_infrastructures agreement_implementation ddr constitution_making power_sharing religion "
        "local_mediation gender_inclusion natural_resources minorities transitional_justice armed_groups"
    ),
    lingua_francas=_codes("en ar"),
    affiliations=(
        "South Asia Peace Process Institute (Kathmandu)",
        "Mindanao Centre for Insider Mediation (Cotabato)",
        "Bay of Bengal Dialogue Forum",
        "Archipelago Peace Studies Centre",
        "Himalayan Dialogue Trust",
    ),
    past_processes=(
        "Bangsamoro peace process, normalisation track (2019)",
        "Aceh reintegration review (2010)",
        "Nepal peace secretariat support (2008)",
        "Myanmar nationwide ceasefire negotiations (2015)",
        "Sri Lanka reconciliation consultations (2016)",
        "Southern Thailand dialogue (2019)",
        "Afghanistan peace negotiations support (2020)",
        "Bougainville referendum preparations (2019)",
    ),
)


POOLS: dict[str, RegionPool] = {
    "west_central_africa": WEST_CENTRAL_AFRICA,
    "east_africa_horn": EAST_AFRICA_HORN,
    "north_africa_middle_east": NORTH_AFRICA_MIDDLE_EAST,
    "europe": EUROPE,
    "central_asia_caucasus": CENTRAL_ASIA_CAUCASUS,
    "latin_america_caribbean": LATIN_AMERICA_CARIBBEAN,
    "south_southeast_asia": SOUTH_SOUTHEAST_ASIA,
}

#: How many experts each organisation's roster gets, drawn from which pools (weights). Nationalities
#: are limited to the organisation's member states, except for the EU's and the UN's rosters.
ROSTERS: dict[str, tuple[int, tuple[tuple[str, int], ...]]] = {
    "au": (28, (("west_central_africa", 4), ("east_africa_horn", 4), ("north_africa_middle_east", 2))),
    "commonwealth": (
        14,
        (
            ("west_central_africa", 2),
            ("east_africa_horn", 2),
            ("south_southeast_asia", 3),
            ("latin_america_caribbean", 2),
            ("europe", 1),
        ),
    ),
    "eac": (10, (("east_africa_horn", 5), ("west_central_africa", 1))),
    "eccas": (10, (("west_central_africa", 5), ("east_africa_horn", 1))),
    "eu": (
        30,
        (
            ("europe", 6),
            ("west_central_africa", 1),
            ("east_africa_horn", 1),
            ("north_africa_middle_east", 1),
            ("central_asia_caucasus", 1),
            ("latin_america_caribbean", 1),
            ("south_southeast_asia", 1),
        ),
    ),
    "igad": (18, (("east_africa_horn", 1),)),
    "oas": (20, (("latin_america_caribbean", 1),)),
    "oic": (
        14,
        (
            ("north_africa_middle_east", 4),
            ("west_central_africa", 2),
            ("east_africa_horn", 1),
            ("central_asia_caucasus", 1),
            ("south_southeast_asia", 2),
        ),
    ),
    "osce": (22, (("europe", 3), ("central_asia_caucasus", 2))),
    "un": (34, tuple((pool, 1) for pool in POOLS)),
}
OPEN_ROSTERS = frozenset({"eu", "un"})  # not limited to member states' nationals

#: Former posts anyone may have held: generic, so they name no real person's career.
FORMER_POSTS = (
    "Former political affairs officer, UN peace operation",
    "Former civil affairs officer, AU mission",
    "Former adviser to a national dialogue secretariat",
    "Former programme director, international peacebuilding NGO",
    "Former diplomat (retired)",
    "Former member of a ceasefire monitoring mechanism",
    "Former lecturer in conflict resolution",
    "Former coordinator of an election observation mission",
    "Former adviser to a national ombudsperson",
    "Former political officer, EU delegation",
)


# --- processes and support requests -----------------------------------------------------------


@dataclass(frozen=True)
class ProcessSpec:
    proposer: str
    name: str
    countries: tuple[str, ...]
    level: str
    track: str
    lead_mediators: tuple[str, ...]
    conflict_parties: tuple[str, ...]
    phase: str
    description: str
    region: str | None = None
    sharing: str = "network"


PROCESSES = (
    ProcessSpec(
        "au",
        "Central African Republic: Political Agreement for Peace and Reconciliation",
        ("CF",),
        "national",
        "1",
        ("au", "eccas"),
        ("Government of the Central African Republic", "Coalition des patriotes pour le changement"),
        "implementation",
        "Follow-up of the 2019 Khartoum-negotiated agreement and the Luanda roadmap.",
    ),
    ProcessSpec(
        "igad",
        "South Sudan: Revitalised Agreement implementation",
        ("SS",),
        "national",
        "1",
        ("igad",),
        ("Transitional Government of National Unity", "SPLM-IO", "South Sudan Opposition Alliance"),
        "implementation",
        "Transitional security arrangements, constitution making and elections under R-ARCSS.",
    ),
    ProcessSpec(
        "au",
        "Sudan: talks on a cessation of hostilities",
        ("SD",),
        "national",
        "1",
        ("au", "igad"),
        ("Sudanese Armed Forces", "Rapid Support Forces"),
        "pre_negotiation",
        "Convergence of the African, regional and international initiatives towards direct talks.",
    ),
    ProcessSpec(
        "un",
        "Yemen: UN-facilitated political process",
        ("YE",),
        "national",
        "1",
        ("un",),
        ("Government of Yemen", "Ansar Allah"),
        "pre_negotiation",
        "Steps towards a nationwide ceasefire, economic measures and an inclusive political process.",
    ),
    ProcessSpec(
        "un",
        "Libya: political and security tracks",
        ("LY",),
        "national",
        "1",
        ("un",),
        ("Government of National Unity", "House of Representatives", "Libyan National Army"),
        "negotiation",
        "The 5+5 Joint Military Commission and the road to unified institutions and elections.",
    ),
    ProcessSpec(
        "osce",
        "Georgia: Geneva International Discussions",
        ("GE",),
        "national",
        "1",
        ("osce", "eu", "un"),
        (),
        "negotiation",
        "Co-chaired talks on security and humanitarian issues, and incident prevention mechanisms.",
    ),
    ProcessSpec(
        "osce",
        "Moldova: Transdniestrian settlement process",
        ("MD",),
        "national",
        "1",
        ("osce",),
        (),
        "suspended",
        "Confidence-building measures between Chisinau and Tiraspol.",
    ),
    ProcessSpec(
        "oas",
        "Colombia: implementation of the Final Agreement and dialogue with the ELN",
        ("CO",),
        "national",
        "1",
        ("un",),
        ("Government of Colombia", "Ejército de Liberación Nacional"),
        "negotiation",
        "Territorial peace, ethnic chapter and a negotiating table with the ELN.",
    ),
    ProcessSpec(
        "igad",
        "Kenya–Uganda cross-border pastoralist dialogue",
        ("KE", "UG"),
        "local",
        "2",
        ("igad", "eac"),
        (),
        "implementation",
        "Local peace committees on grazing, water points and livestock raids in the Karamoja cluster.",
    ),
    ProcessSpec(
        "eccas",
        "Liptako-Gourma and Lake Chad: farmer–herder dialogues",
        ("BF", "ML", "NE", "TD"),
        "subnational",
        "2",
        ("au",),
        (),
        "exploratory",
        "Transhumance corridors, land and community mediation across borders.",
        region="western_africa",
    ),
    ProcessSpec(
        "au",
        "Ethiopia: Cessation of Hostilities Agreement implementation",
        ("ET",),
        "national",
        "1",
        ("au",),
        ("Government of Ethiopia", "Tigray People's Liberation Front"),
        "implementation",
        "Monitoring, disarmament, demobilisation and reintegration after the Pretoria agreement.",
    ),
    ProcessSpec(
        "oic",
        "Philippines: Bangsamoro normalisation",
        ("PH",),
        "subnational",
        "1",
        ("oic",),
        ("Government of the Philippines", "Moro Islamic Liberation Front"),
        "implementation",
        "Decommissioning, transitional justice and the Bangsamoro transition.",
    ),
)


@dataclass(frozen=True)
class ResponseSpec:
    organisation: str
    office: str
    kind: str  # offer | decline
    text: str  # the note of an offer, the reason of a decline


@dataclass(frozen=True)
class RequestSpec:
    organisation: str
    office: str
    process: str
    title: str
    description: str
    service_types: tuple[str, ...]
    themes: tuple[str, ...]
    languages: tuple[str, ...]
    start: date
    end: date
    mandate_type: str
    mandate_reference: str
    state: str  # where the demo leaves it
    addressees: tuple[tuple[str, str], ...] = ()
    route: str = "named"
    urgency: str = "routine"
    responses: tuple[ResponseSpec, ...] = ()
    outcome: dict[str, object] | None = None


SUDAN = "Sudan: talks on a cessation of hostilities"
REQUESTS = (
    RequestSpec(
        "au",
        "Mediation Support Unit",
        SUDAN,
        "Process design for inclusive civilian consultations",
        "Options for sequencing civilian consultations alongside the military track, and for the inclusion of women's and youth groups.",
        ("process_design",),
        ("national_dialogue", "gender_inclusion"),
        ("ar", "en"),
        date(2027, 2, 1),
        date(2027, 5, 31),
        "regional_council_decision",
        "PSC communiqué on the situation in Sudan",
        "submitted",
        addressees=(("un", "Mediation Support Unit"), ("eu", "Mediation Support Team")),
    ),
    RequestSpec(
        "igad",
        "Mediation Support Unit",
        SUDAN,
        "Ceasefire arrangements advice for the Sudan talks",
        "Technical advice on ceasefire monitoring and humanitarian corridors ahead of direct talks.",
        ("thematic_expertise", "process_design"),
        ("ceasefire_security", "humanitarian_mediation"),
        ("ar", "en"),
        date(2027, 3, 1),
        date(2027, 6, 30),
        "organisation_decision",
        "IGAD Assembly communiqué",
        "submitted",
        addressees=(("un", "Standby Team of Senior Mediation Advisers"),),
    ),
    RequestSpec(
        "au",
        "FemWise-Africa Secretariat",
        "Central African Republic: Political Agreement for Peace and Reconciliation",
        "Gender and inclusion expert for the follow-up committees",
        "A francophone expert to accompany the prefectural follow-up committees.",
        ("thematic_expertise",),
        ("gender_inclusion", "agreement_implementation"),
        ("fr",),
        date(2027, 1, 15),
        date(2027, 4, 15),
        "host_state_request",
        "Letter of the Minister of Reconciliation",
        "draft",
    ),
    RequestSpec(
        "igad",
        "Mediation Support Unit",
        "South Sudan: Revitalised Agreement implementation",
        "Constitution-making process design support",
        "Advice on public consultation design for the permanent constitution.",
        ("process_design",),
        ("constitution_making",),
        ("en",),
        date(2027, 2, 1),
        date(2027, 7, 31),
        "regional_council_decision",
        "IGAD Council of Ministers",
        "received",
        addressees=(("un", "Mediation Support Unit"), ("eu", "Mediation Support Team")),
        responses=(
            ResponseSpec(
                "eu",
                "Mediation Support Team",
                "offer",
                "A process design adviser for three missions to Juba.",
            ),
        ),
    ),
    RequestSpec(
        "un",
        "Mediation Support Unit",
        "Yemen: UN-facilitated political process",
        "Economic track expertise",
        "Expertise on peace economics for the economic de-escalation track.",
        ("thematic_expertise",),
        ("peace_economics",),
        ("ar", "en"),
        date(2027, 1, 10),
        date(2027, 3, 31),
        "security_council_resolution",
        "S/RES/2216 (2015)",
        "accepted",
        addressees=(("eu", "Mediation Support Team"), ("oic", "Peace, Security and Mediation Unit")),
        responses=(
            ResponseSpec(
                "eu", "Mediation Support Team", "offer", "Two economists from the EU roster, remote first."
            ),
            ResponseSpec(
                "oic", "Peace, Security and Mediation Unit", "offer", "A senior adviser with Gulf experience."
            ),
        ),
    ),
    RequestSpec(
        "osce",
        "Mediation Support Team",
        "Moldova: Transdniestrian settlement process",
        "Confidence-building measures workshop",
        "Facilitation of a workshop on confidence-building measures for the working groups.",
        ("technical_support",),
        ("confidence_building",),
        ("ru", "ro"),
        date(2027, 4, 1),
        date(2027, 4, 30),
        "organisation_decision",
        "Chairpersonship request",
        "rejected",
        addressees=(("eu", "Mediation Support Team"),),
        responses=(
            ResponseSpec(
                "eu", "Mediation Support Team", "decline", "No Russian-speaking facilitator free in April."
            ),
        ),
    ),
    RequestSpec(
        "au",
        "Mediation Support Unit",
        "Ethiopia: Cessation of Hostilities Agreement implementation",
        "DDR expertise for the monitoring mechanism",
        "A DDR adviser to support the monitoring, verification and compliance mission.",
        ("thematic_expertise",),
        ("ddr", "ceasefire_security"),
        ("en", "am"),
        date(2026, 10, 1),
        date(2027, 3, 31),
        "parties_consent",
        "Article 6 of the Pretoria agreement",
        "in-progress",
        addressees=(("un", "Standby Team of Senior Mediation Advisers"),),
        responses=(
            ResponseSpec(
                "un",
                "Standby Team of Senior Mediation Advisers",
                "offer",
                "The standby team's security arrangements adviser.",
            ),
        ),
    ),
    RequestSpec(
        "oas",
        "Department of Sustainable Democracy and Special Missions",
        "Colombia: implementation of the Final Agreement and dialogue with the ELN",
        "Lessons-learned exercise on territorial dialogues",
        "A debriefing and lessons-learned exercise after the first cycle of territorial dialogues.",
        ("debriefing",),
        ("local_mediation", "agreement_implementation"),
        ("es",),
        date(2026, 6, 1),
        date(2026, 9, 30),
        "host_state_request",
        "Request of the Office of the High Commissioner for Peace",
        "completed",
        addressees=(("un", "Mediation Support Unit"),),
        responses=(
            ResponseSpec(
                "un", "Mediation Support Unit", "offer", "A knowledge management officer for two months."
            ),
        ),
        outcome={
            "delivered": True,
            "modality": "both",
            "note": "Report shared with the parties; a second cycle is planned.",
        },
    ),
    RequestSpec(
        "igad",
        "CEWARN Cross-Border Mediation Desk",
        "Kenya–Uganda cross-border pastoralist dialogue",
        "Local mediation coaching for peace committees",
        "Coaching for cross-border peace committee members on mediating grazing disputes.",
        ("coaching",),
        ("transhumance", "local_mediation"),
        ("sw", "en"),
        date(2027, 2, 15),
        date(2027, 3, 31),
        "organisation_decision",
        "CEWARN work plan",
        "cancelled",
        addressees=(("eac", "Mediation Support Unit (being established)"),),
    ),
    RequestSpec(
        "eccas",
        "Mediation Support Unit (being established)",
        "Liptako-Gourma and Lake Chad: farmer–herder dialogues",
        "Mapping of transhumance conflict actors",
        "A conflict analysis of transhumance corridors to inform community dialogues.",
        ("conflict_analysis",),
        ("transhumance", "natural_resources"),
        ("fr",),
        date(2027, 5, 1),
        date(2027, 8, 31),
        "organisation_decision",
        "ECCAS Commission decision",
        "on-hold",
        route="best_matches",
    ),
    RequestSpec(
        "un",
        "Mediation Support Unit",
        "Libya: political and security tracks",
        "Envoy handover support",
        "Support for the handover between the outgoing and incoming Special Representatives.",
        ("envoy_handover",),
        (),
        ("ar", "en"),
        date(2027, 1, 5),
        date(2027, 2, 28),
        "security_council_resolution",
        "S/RES/2755 (2024)",
        "completed",
        addressees=(("eu", "Mediation Support Team"),),
        responses=(
            ResponseSpec(
                "eu", "Mediation Support Team", "offer", "An adviser who supported a previous handover."
            ),
        ),
        outcome={
            "delivered": False,
            "reason": "The appointment of the new envoy was delayed.",
            "note": "To be requested again.",
        },
        urgency="urgent",
    ),
    RequestSpec(
        "oic",
        "Peace, Security and Mediation Unit",
        "Philippines: Bangsamoro normalisation",
        "Transitional justice advice",
        "Advice on the transitional justice and reconciliation programme of the normalisation track.",
        ("thematic_expertise",),
        ("transitional_justice",),
        ("en",),
        date(2027, 3, 1),
        date(2027, 6, 30),
        "parties_consent",
        "Joint request of the parties' implementing panels",
        "submitted",
        route="best_matches",
    ),
)
