"""Read-only models of Luigi's task-history DB (tables written by luigid)."""
