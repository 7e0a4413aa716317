"""The monitor's URLs (namespace `monitor`)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from webmon.monitor.views import crawl, families, health, logs, overview, preferences, run, runs, tasks, workers

app_name = "monitor"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("runs/", runs.runs, name="runs"),
    path("runs/<int:pk>/", run.run_detail, name="run"),
    path("runs/<int:pk>/log.json", logs.log_after, name="run-log-json"),
    path("runs/<int:pk>/log.txt", logs.log_download, name="run-log-download"),
    path("runs/<int:pk>/log/<int:seq>.txt", logs.log_line, name="run-log-line"),
    # The crawl name is a query parameter: it is task data and may hold any character.
    path("crawl/", crawl.crawl_detail, name="crawl"),
    path("families/", families.families, name="families"),
    path("workers/", workers.workers, name="workers"),
    # Luigi's own task records (`tasks`), by their row id: a task_id may hold any character.
    path("tasks/", tasks.tasks, name="tasks"),
    path("tasks/<int:pk>/", tasks.task_detail, name="task"),
    path("healthz", health.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(template_name="monitor/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/", preferences.preferences, name="settings"),  # the user's language and time zone
]
