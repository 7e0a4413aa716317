"""webmon: the Django monitor of the crawls (settings, DB wiring and apps)."""
