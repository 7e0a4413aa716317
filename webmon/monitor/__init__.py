"""The monitor: webmon's own models and pages (pages come in a later issue)."""
