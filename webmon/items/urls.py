"""The items browser's URLs (namespace `items`). The crawl name is a query parameter, as on the crawl page."""

from __future__ import annotations

from django.urls import path

from webmon.items import views

app_name = "items"

urlpatterns = [
    path("crawl/items/", views.items_list, name="list"),
    path("crawl/items/<int:pk>/", views.item_detail, name="item"),
    path("crawl/items/export.<str:kind>", views.items_export, name="export"),
    path("crawl/tick/", views.tick_detail, name="tick"),
    path("crawl/tick/export.<str:kind>", views.tick_export, name="tick-export"),
]
