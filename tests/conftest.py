"""Shared pytest configuration: the suite must run against the compiled extension."""
import zenoo_retry._core  # noqa: F401  (fails loudly if the extension is missing)
