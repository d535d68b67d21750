"""msnet: the shared directory and request-routing service of mediation support offices."""

__version__ = "0.1.0"
