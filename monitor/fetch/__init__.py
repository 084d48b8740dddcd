"""Fetching: one polite, conditional, capped and safe HTTP client (see :mod:`.client`)."""

from monitor.fetch.backoff import next_delay, parse_retry_after
from monitor.fetch.client import Fetcher, Holding, politeness_key
from monitor.fetch.urls import canonicalize, same_registrable_domain, site_of

__all__ = [
    "Fetcher", "Holding", "canonicalize", "next_delay", "parse_retry_after", "politeness_key",
    "same_registrable_domain", "site_of",
]
