"""The outbox's settings: the worker switch, its poll interval, the SMTP server."""

from __future__ import annotations

import pytest

from msnet.errors import SettingsError
from msnet.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.worker is True
    assert settings.worker_poll_interval == 5
    assert settings.smtp_host is None
    assert settings.smtp_port == 587
    assert settings.smtp_tls == "starttls"


def test_values() -> None:
    settings = Settings.from_env(
        {
            "MSNET_WORKER": "off",
            "MSNET_WORKER_POLL_INTERVAL": "2",
            "MSNET_SMTP_HOST": "smtp.example.org",
            "MSNET_SMTP_PORT": "465",
            "MSNET_SMTP_TLS": "TLS",
            "MSNET_SMTP_USER": "msnet",
            "MSNET_SMTP_PASSWORD": " pass word ",
            "MSNET_MAIL_FROM": "msnet@mediation.example.org",
        }
    )
    assert settings.worker is False
    assert settings.worker_poll_interval == 2
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == ("smtp.example.org", 465, "tls")
    assert (settings.smtp_user, settings.smtp_password) == ("msnet", " pass word ")
    assert settings.mail_from == "msnet@mediation.example.org"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MSNET_WORKER", "sometimes", "must be on or off"),
        ("MSNET_WORKER_POLL_INTERVAL", "0", "between 1 and 3600"),
        ("MSNET_SMTP_TLS", "ssl", "must be one of starttls, tls, none"),
        ("MSNET_MAIL_FROM", "Desk <desk@example.org>", "one e-mail address"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: .*{message}"):
        Settings.from_env({variable: value})


def test_an_smtp_server_needs_a_from_address() -> None:
    with pytest.raises(SettingsError, match=r"^MSNET_MAIL_FROM: "):
        Settings.from_env({"MSNET_SMTP_HOST": "smtp.example.org"})
