"""A client of msnet with a secret (client_secret_basic), on Authlib's httpx client.

    MSNET_URL=http://127.0.0.1:8000 MSNET_CLIENT_ID=un.… MSNET_CLIENT_SECRET=mss_… \
        python docs/examples/client_secret_basic.py
"""

import os

from authlib.integrations.httpx_client import OAuth2Client

node = os.environ["MSNET_URL"]  # the node's issuer: MSNET_PUBLIC_URL
with OAuth2Client(
    os.environ["MSNET_CLIENT_ID"],
    os.environ["MSNET_CLIENT_SECRET"],
    token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method's name)
    token_endpoint=f"{node}/oauth/token",
    grant_type="client_credentials",  # Authlib gets a new token this way when the last one expires
    scope="directory:read requests:read",  # ask only for what you need; a scope not held: invalid_scope
) as msnet:
    msnet.fetch_token()
    offices = msnet.get(f"{node}/v1/offices", params={"limit": 5}).raise_for_status().json()
    print(f"{offices['total']} offices; the first: {[o['name'] for o in offices['items']]}")
    inbox = msnet.get(f"{node}/v1/inbox").raise_for_status().json()
    print(f"{inbox['total']} requests in the inbox")
