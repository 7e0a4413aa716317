"""The Settings page: the signed-in user's language and time zone (GET shows them, POST saves them)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from webmon.monitor.clock import Clock
from webmon.monitor.forms import PreferenceForm
from webmon.monitor.models import UserPreference
from webmon.monitor.preferences import remember, set_language_cookie


@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    found = UserPreference.objects.filter(user_id=request.user.pk).first()
    instance = found or UserPreference(user_id=request.user.pk)
    if request.method != "POST":
        form = PreferenceForm(instance=instance)
        return render(request, "monitor/settings.html", {"form": form, "clock": Clock.current()})
    form = PreferenceForm(request.POST, instance=instance)
    if not form.is_valid():
        return render(request, "monitor/settings.html", {"form": form, "clock": Clock.current()}, status=400)
    saved = form.save()
    remember(request, saved.language, saved.time_zone)
    # Say it in the language just chosen (the browser's when "as the browser asks").
    language = saved.language or translation.get_language_from_request(request)
    with translation.override(language):
        messages.success(request, _("Saved: pages in %(language)s, times in %(zone)s.") % {
            "language": dict(settings.LANGUAGES).get(language, language), "zone": saved.time_zone})
    response = redirect("monitor:settings")
    if saved.language:
        set_language_cookie(response, saved.language)
    else:  # follow the browser again: a cookie from an earlier choice would win over Accept-Language
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, path=settings.LANGUAGE_COOKIE_PATH,
                               domain=settings.LANGUAGE_COOKIE_DOMAIN, samesite=settings.LANGUAGE_COOKIE_SAMESITE)
    return response
