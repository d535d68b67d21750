"""A client of msnet with a key pair (private_key_jwt, RFC 7523), on Authlib's async httpx client.

msnet takes a client assertion only if its `aud` is the node's issuer (not the token endpoint's URL,
Authlib's default) and it lives five minutes at most (Authlib's default is an hour): say so.

    MSNET_URL=http://127.0.0.1:8000 MSNET_CLIENT_ID=au.… MSNET_KEY_FILE=private.pem \
        python docs/examples/private_key_jwt.py
"""

import asyncio
import os
import time
from pathlib import Path

from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import RSAKey


class MsnetAssertion(PrivateKeyJWT):
    """Authlib's private_key_jwt with an assertion of two minutes (a new `jti` each time)."""

    def sign(self, auth, token_endpoint):  # type: ignore[no-untyped-def]
        self.claims = {"exp": int(time.time()) + 120}  # a new dict each time: Authlib adds its jti
        return super().sign(auth, token_endpoint)


async def main(key: RSAKey) -> None:
    node = os.environ["MSNET_URL"]  # the node's issuer: MSNET_PUBLIC_URL
    async with AsyncOAuth2Client(
        os.environ["MSNET_CLIENT_ID"],
        key,
        token_endpoint_auth_method=MsnetAssertion(node),  # the assertion's aud: the issuer
        token_endpoint=f"{node}/oauth/token",
        grant_type="client_credentials",
        scope="audit:read",
    ) as msnet:
        await msnet.fetch_token()
        entries = (await msnet.get(f"{node}/v1/audit", params={"limit": 3})).raise_for_status().json()
        print(f"{entries['total']} audit entries; the last: {[e['action'] for e in entries['items']]}")


asyncio.run(main(RSAKey.import_key(Path(os.environ["MSNET_KEY_FILE"]).read_text())))
