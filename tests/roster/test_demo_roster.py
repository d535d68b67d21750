"""The demo roster keeps the roster's rules: contact details shared widely only with consent, and
external ids unique within each organisation."""

from __future__ import annotations

from msnet.demo import roster
from msnet.roster import service


def test_the_demo_roster_has_consent_for_shared_contacts_and_unique_external_ids() -> None:
    experts = roster.demo_experts()
    for expert in experts:
        data = expert.create
        service.check_consent(data.sharing, data.consent, service.has_contact(data.contact))
    keys = [(e.organisation, e.create.external_id) for e in experts]
    assert all(external_id for _, external_id in keys)
    assert len(set(keys)) == len(keys)
