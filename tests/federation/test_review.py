"""Defects found in review of the federation code (issue #20): a node document signed by an
untrusted key that borrows a trusted key's kid, a peer's capacity attached to another organisation's
office, and cursors whose digits Python cannot read."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.auth.keys import KeyRing
from msnet.db.embedded import with_user_and_db
from msnet.db.engine import make_engine, make_sessionmaker
from msnet.errors import InvalidInput
from msnet.federation import feed, node
from msnet.federation.apply import PageRejected, apply_page
from msnet.federation.client import PeerClient, PeerError
from msnet.settings import Settings
from tests.conftest import APP, Clones

A = "http://node-a.test"
B = "http://node-b.test"


def _key(kid: str | None = None) -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, auto_kid=True)
    return key if kid is None else RSAKey.import_key({**key.as_dict(private=True), "kid": kid})


def _document(signer: RSAKey, published: list[RSAKey], typ: str = node.TYP) -> str:
    payload = {"issuer": A, "jwks": {"keys": [k.as_dict(private=False) for k in published]}}
    signed = jws.serialize_json(
        [{"protected": {"alg": "RS256", "typ": typ, "kid": signer.kid}}],  # type: ignore[list-item]
        json.dumps(payload).encode(),
        KeySet([signer]),  # type: ignore[list-item]
        algorithms=["RS256"],
    )
    return json.dumps(signed)


def test_a_node_document_signed_by_an_untrusted_key_under_a_trusted_keys_kid_is_refused() -> None:
    trusted = _key()
    trusted_fingerprint = node.fingerprint(trusted.as_dict(private=False))
    assert node.verify_node_document(_document(trusted, [trusted]), [trusted_fingerprint])["issuer"] == A
    impostor = _key(str(trusted.kid))
    for published in ([impostor, trusted], [trusted, impostor]):
        with pytest.raises((node.BadNodeDocument, node.UntrustedKey)):
            node.verify_node_document(_document(impostor, published), [trusted_fingerprint])


def test_a_jws_of_another_type_signed_by_a_trusted_key_is_no_node_document() -> None:
    trusted = _key()
    trusted_fingerprint = node.fingerprint(trusted.as_dict(private=False))
    for typ in (feed.ITEM_TYPE, "at+jwt"):
        with pytest.raises(node.BadNodeDocument):
            node.verify_node_document(_document(trusted, [trusted], typ), [trusted_fingerprint])


async def test_a_peer_whose_token_endpoint_answers_nonsense_is_a_peer_error() -> None:
    """A peer that answers 200 with something other than a token (the network edge, stood in for)."""
    key = _key()
    settings = Settings(public_url=B, secret_key="x" * 43)
    answers = [httpx.Response(200, text="<html>"), httpx.Response(200, json={"access_token": "t"})]
    for answer in answers:
        client = PeerClient(settings, KeyRing(signing=key, verifying=KeySet([key])), A)
        await client.http.aclose()
        client.http = httpx.AsyncClient(
            base_url=A, transport=httpx.MockTransport(lambda _request, a=answer: a)
        )
        async with client:
            with pytest.raises(PeerError):
                await client.token()


def test_a_node_document_whose_signer_is_named_outside_its_protected_header_is_refused() -> None:
    """The kid that picks the key that verifies must be the kid whose key is fingerprinted."""
    trusted = _key("None")
    trusted_fingerprint = node.fingerprint(trusted.as_dict(private=False))
    impostor = _key("K")
    payload = {
        "issuer": A,
        "jwks": {"keys": [impostor.as_dict(private=False), trusted.as_dict(private=False)]},
    }
    signed = jws.serialize_json(
        [{"protected": {"alg": "RS256", "typ": node.TYP}, "header": {"kid": "K"}}],  # type: ignore[list-item]
        json.dumps(payload).encode(),
        KeySet([impostor]),  # type: ignore[list-item]
        algorithms=["RS256"],
    )
    with pytest.raises((node.BadNodeDocument, node.UntrustedKey)):
        node.verify_node_document(json.dumps(signed), [trusted_fingerprint])


def test_a_node_document_publishing_a_key_that_cannot_be_fingerprinted_is_refused() -> None:
    """Every key a document publishes is fingerprinted when it is accepted: one that is not an RSA
    key made accepting it raise, here and for every peer refreshed after it."""
    trusted = _key()
    trusted_fingerprint = node.fingerprint(trusted.as_dict(private=False))
    other = ECKey.generate_key("P-256", auto_kid=True)
    payload = {"issuer": A, "jwks": {"keys": [trusted.as_dict(private=False), other.as_dict(private=False)]}}
    signed = jws.serialize_json(
        [{"protected": {"alg": "RS256", "typ": node.TYP, "kid": trusted.kid}}],  # type: ignore[list-item]
        json.dumps(payload).encode(),
        KeySet([trusted]),  # type: ignore[list-item]
        algorithms=["RS256"],
    )
    with pytest.raises(node.BadNodeDocument):
        node.fingerprints(node.verify_node_document(json.dumps(signed), [trusted_fingerprint])["jwks"])


@pytest.mark.parametrize("position", ["²", "1" * 5000, "٣"])
def test_a_cursor_of_digits_python_cannot_read_is_bad_input(position: str) -> None:
    audience = feed.Audience(B, frozenset({uuid.uuid4()}), frozenset({"eu"}))
    with pytest.raises(InvalidInput):
        feed.decode_cursor(b"0" * 32, audience, f"c1.{position}.1.mac")
    with pytest.raises(InvalidInput):
        feed.decode_cursor(b"0" * 32, audience, f"c1.1.{position}.mac")


@pytest.fixture
async def node_b(superuser_url: str, clones: Clones) -> AsyncIterator[async_sessionmaker]:
    name = clones.take()
    engine = make_engine(with_user_and_db(superuser_url, APP, name), pool_size=2)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
        clones.give_back(name)


async def test_a_peers_capacity_cannot_join_an_office_of_another_organisation(
    node_b: async_sessionmaker,
) -> None:
    """B homes ``eu`` and its office; ``au`` is homed on A. A capacity from A for ``au`` naming
    ``eu``'s office would be listed and searched with it on B: the page is refused."""
    eu, au = uuid.uuid4(), uuid.uuid4()
    async with node_b() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO organisations (id, slug, name, kind, origin, home) VALUES "
                "(:eu, 'eu', 'EU', 'other', :b, NULL), (:au, 'au', 'AU', 'other', :a, :home)"
            ),
            {"eu": eu, "au": au, "a": A, "home": A, "b": B},
        )
        await session.execute(text("SELECT set_config('msnet.org', :o, true)"), {"o": str(eu)})
        office = await session.scalar(
            text(
                "INSERT INTO offices (id, organisation_id, origin, name, mandate, parent_structure, "
                "sharing, share_with, version) VALUES (gen_random_uuid(), :o, :b, 'eu office', '', '', "
                "'network', '{}', 1) RETURNING id"
            ),
            {"o": eu, "b": B},
        )
    key = _key()
    now = datetime.now(UTC).isoformat()
    capacity = {
        "id": str(uuid.uuid4()),
        "kind": "capacity",
        "origin": A,
        "organisation": str(au),
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "sharing": "network",
        "share_with": [],
        "body": {
            "office_id": str(office),
            "service_type": "process_design",
            "themes": [],
            "countries": [],
            "regions": [],
            "languages": [],
            "lead_time_days": 7,
            "concurrent_engagements": 1,
            "notes": "",
            "last_confirmed_at": now,
        },
    }
    with pytest.raises(PageRejected):
        async with node_b() as session, session.begin():
            await apply_page(session, A, [feed.sign_item(key, capacity)], KeySet([key]))
    async with node_b() as session, session.begin():
        await session.execute(text("SELECT set_config('msnet.audience', '{}', true)"))
        assert await session.scalar(text("SELECT count(*) FROM capacities")) == 0
