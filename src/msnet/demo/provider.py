"""A real OpenID Connect provider for development: oidc-provider-mock (the ``demo`` extra), served on
a loopback port in a thread, with predefined people to sign in as in one click. ``msnet demo`` runs
one for the demo staff and the tests run their own; ``msnet serve`` never does."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from msnet.errors import StartupError


@dataclass(frozen=True, slots=True)
class DemoUser:
    """Someone the provider signs in: ``sub`` and the claims of their ID token (``email``, ``name``,
    and any other, e.g. a role claim)."""

    sub: str
    claims: dict[str, Any] = field(default_factory=dict)


def _quiet_handler() -> type:
    import werkzeug.serving

    class Quiet(werkzeug.serving.WSGIRequestHandler):
        """No line on standard error for every request."""

        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    return Quiet


@contextmanager
def running(users: Sequence[DemoUser] = (), host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The provider, listening on ``host``:``port`` (0: a free port) for the block; yields its issuer.
    It requires a nonce in every authorization request, and lets any client id and secret in."""
    try:
        with warnings.catch_warnings():
            # it imports authlib.jose, which Authlib deprecates in favour of joserfc (msnet uses joserfc)
            warnings.filterwarnings("ignore", "authlib.jose module is deprecated")
            import oidc_provider_mock
        import werkzeug.serving
    except ImportError:
        raise StartupError(
            "the demo's OpenID Connect provider needs the demo extra: pip install 'msnet[demo]'"
        ) from None
    app = oidc_provider_mock.app(
        require_nonce=True,
        user_claims=[oidc_provider_mock.User(sub=u.sub, claims=dict(u.claims)) for u in users],
    )
    # oidc-provider-mock turns on Flask's debug mode and Werkzeug's interactive debugger: not here
    app.debug = False
    app.wsgi_app = app.wsgi_app.app  # type: ignore[attr-defined, method-assign]
    server = werkzeug.serving.make_server(host, port, app, threaded=True, request_handler=_quiet_handler())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
