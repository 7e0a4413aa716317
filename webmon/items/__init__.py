"""The items browser: a crawl's items from the items DB, what changed in a tick, exports (CSV, JSON lines)."""
