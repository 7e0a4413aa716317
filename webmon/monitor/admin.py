"""Admin registrations of the monitor's models: each user's language and time zone."""

from __future__ import annotations

from django.contrib import admin

from webmon.monitor.models import UserPreference


@admin.register(UserPreference)
class UserPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "language", "time_zone"]
    list_filter = ["language"]
    search_fields = ["user__username"]
