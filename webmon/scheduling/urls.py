"""The schedule pages and actions (namespace `scheduling`)."""

from __future__ import annotations

from django.urls import path

from webmon.scheduling import views
from webmon.scheduling.grid import schedule_grid

app_name = "scheduling"

urlpatterns = [
    path("schedules/", views.schedule_list, name="list"),
    path("schedules/<int:pk>/", views.schedule_detail, name="detail"),
    path("schedules/<int:pk>/grid/", schedule_grid, name="grid"),
    path("schedules/<int:pk>/pause/", views.pause, name="pause"),
    path("schedules/<int:pk>/resume/", views.resume, name="resume"),
    path("schedules/<int:pk>/trigger/", views.trigger, name="trigger"),
    path("schedules/<int:pk>/backfill/", views.backfill, name="backfill"),
    path("schedules/<int:pk>/runs/<int:run_id>/", views.run_link, name="run"),
    path("schedules/<int:pk>/runs/<int:run_id>/rerun/", views.rerun, name="rerun"),
    path("schedules/<int:pk>/runs/<int:run_id>/output.txt", views.run_output, name="run-output"),
]
