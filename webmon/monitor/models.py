"""webmon's own models of the monitor, in the default (webmon) DB: each user's language and time zone."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from webmon.scheduling.ticks import timezone_error


class UserPreference(models.Model):
    """What one user chose on the Settings page: the language of the pages and the time zone times are shown in.

    An empty language means "as the browser asks" (the language cookie, then Accept-Language).
    The choice is copied into the session at login and on saving (webmon/monitor/preferences.py),
    so a page costs no query for it.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webmon_preference",
                                verbose_name=_("user"))
    language = models.CharField(_("language"), max_length=16, blank=True,
                                choices=[("", _("as the browser asks")), *settings.LANGUAGES],
                                help_text=_("The language of the pages; empty: the browser's."))
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC",
                                 help_text=_("IANA name such as Asia/Taipei; times on the pages are shown in it."))

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return str(self.user)

    def clean(self) -> None:
        if timezone_error(self.time_zone):
            raise ValidationError({"time_zone": _("Unknown time zone %(name)s: choose one from the list.")
                                   % {"name": self.time_zone}})
