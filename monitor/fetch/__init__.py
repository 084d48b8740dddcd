"""Fetching: one polite, conditional, capped and safe HTTP client (see :mod:`.client`).

The package re-exports nothing: its modules are imported by name, so that the parsing workers, which decode
pages and read URLs but never fetch, start without loading the HTTP client.
"""
