"""The browser fixtures of tests/browser.py, for the documentation's browser tests."""

from tests.browser import browser, offline_page

__all__ = ["browser", "offline_page"]
