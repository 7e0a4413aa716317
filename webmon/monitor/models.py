"""webmon's own models, in the default (webmon) DB. None yet."""
