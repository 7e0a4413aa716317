"""Maintenance of the three databases: backups (backup.py), restores (restore.py),
history pruning (prune.py), and the Luigi tasks that run them (tasks.py)."""
