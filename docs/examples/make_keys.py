"""A key pair for private_key_jwt: the private key stays with the client (private.pem), the public
key set is registered (`msnet client create --jwks-file public.jwks.json`). RSA keys have 2048 bits at
least; EC (P-256/384/521) and Ed25519 keys are taken too.

    python docs/examples/make_keys.py
"""

import json
import os
from pathlib import Path

from joserfc.jwk import RSAKey

key = RSAKey.generate_key(3072, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
fd = os.open("private.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "wb") as private:
    private.write(key.as_pem(private=True))
Path("public.jwks.json").write_text(json.dumps({"keys": [key.as_dict(private=False)]}, indent=2))
print(f"private.pem (keep it), public.jwks.json (register it); kid {key.kid}")
