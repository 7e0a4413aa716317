"""Crawl limits that were reached: max_pages, max_depth, [budgets], [fetch] max_bytes.

A crawl that stops at a limit is done, yet its data may be incomplete: 10,200
pages of a catalogue and max_pages 10,000 store 10,000 and skip the rest. So
FetchPages lists every limit its crawl reached (`hits`, from the crawler's
stats: URLs skipped as max_pages, max_depth or budget, responses failed as
too_large) in its stats as `limits`, and what the spec's `on_limit` makes of
each: `warn` (the default: the tick is done with warnings, like a data-quality
warning), `fail` (the items are stored, then RunCrawl fails, every rerun too)
or `ignore` (listed, no warning: a max_depth meant to prune).

`on_limit` is one action for every limit, or a table of limit = action:

    on_limit = "fail"
    on_limit = { max_pages = "fail", max_depth = "ignore" }

RunCrawl judges the hits FetchPages stored with the spec it runs with
(`judge`), so loosening on_limit turns a failed tick done on its rerun,
without fetching again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.exceptions import SpecError
from pipelines.specreader import describe

LIMITS = ("max_pages", "max_depth", "budget", "max_bytes")  # the `limit` label of crawl_limit_* metrics
ACTIONS = ("warn", "fail", "ignore")
DEFAULT_ACTION = "warn"
_LISTED_BUDGETS = 3


def parse_on_limit(path: Path, value: Any) -> dict[str, str]:
    """The action for each limit from a spec's `on_limit` (absent: warn for all); SpecError if bad."""
    if value is None:
        return dict.fromkeys(LIMITS, DEFAULT_ACTION)
    if isinstance(value, str):
        if value not in ACTIONS:
            raise SpecError(path, "on_limit", f"expected one of {', '.join(ACTIONS)} (or a table of limit = action), "
                                              f"got {describe(value)}")
        return dict.fromkeys(LIMITS, value)
    if not isinstance(value, dict):
        raise SpecError(path, "on_limit", f"expected one of {', '.join(ACTIONS)} or a table of limit = action, "
                                          f"got {describe(value)}")
    actions = dict.fromkeys(LIMITS, DEFAULT_ACTION)
    for limit, action in value.items():
        if limit not in LIMITS:
            raise SpecError(path, f"on_limit.{limit}", f"is not a limit; the limits are {', '.join(LIMITS)}")
        if action not in ACTIONS:
            raise SpecError(path, f"on_limit.{limit}", f"expected one of {', '.join(ACTIONS)}, got {describe(action)}")
        actions[limit] = action
    return actions


def hits(stats: dict[str, Any], max_pages: int, max_depth: int | None, max_bytes: int) -> list[dict[str, Any]]:
    """Each limit the crawl of these FetchPages stats reached: {"limit", "urls", "sentence"}."""
    skipped = stats.get("skipped_by_reason") or {}
    failed = stats.get("failed_by_reason") or {}
    found = []
    if skipped.get("max_pages"):
        n = skipped["max_pages"]
        found.append({"limit": "max_pages", "urls": n, "sentence": (
            f"max_pages: the crawl reached its limit of {max_pages:,} pages; {n:,} more "
            f"{_urls(n)} found were not fetched, so the data may be incomplete")})
    if skipped.get("max_depth"):
        n = skipped["max_depth"]
        found.append({"limit": "max_depth", "urls": n, "sentence": (
            f"max_depth: {n:,} {_urls(n)} more than {max_depth} links from a start URL were not fetched")})
    if skipped.get("budget"):
        n = skipped["budget"]
        spent = sorted((stats.get("skipped_by_budget") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        which = ", ".join(f"{pattern!r} {count:,}" for pattern, count in spent[:_LISTED_BUDGETS])
        if len(spent) > _LISTED_BUDGETS:
            which += f", {len(spent) - _LISTED_BUDGETS} other"
        found.append({"limit": "budget", "urls": n, "sentence": (
            f"budgets: {n:,} {_urls(n)} were not fetched, their budget spent" + (f" ({which})" if which else ""))})
    if failed.get("too_large"):
        n = failed["too_large"]
        found.append({"limit": "max_bytes", "urls": n, "sentence": (
            f"max_bytes: {n:,} {'response was' if n == 1 else 'responses were'} larger than {max_bytes:,} bytes "
            "and failed as too_large")})
    return found


def judge(found: Any, actions: dict[str, str]) -> dict[str, Any]:
    """{"verdict": ok | warn | fail, "hits": [...with "action"], "warnings", "failures"} for stored hits."""
    judged = []
    for hit in found if isinstance(found, list) else []:
        if isinstance(hit, dict) and isinstance(hit.get("sentence"), str):
            judged.append({**hit, "action": actions.get(str(hit.get("limit")), DEFAULT_ACTION)})
    failures = [h["sentence"] for h in judged if h["action"] == "fail"]
    warnings = [h["sentence"] for h in judged if h["action"] == "warn"]
    verdict = "fail" if failures else "warn" if warnings else "ok"
    return {"verdict": verdict, "hits": judged, "warnings": warnings, "failures": failures}


def summary(judged: dict[str, Any]) -> str | None:
    """'limits: max_pages 200 URLs (warn)' for a summary line; None when no limit was reached."""
    if not judged["hits"]:
        return None
    return "limits: " + ", ".join(f"{h['limit']} {h['urls']:,} {_urls(h['urls'])} ({h['action']})"
                                  for h in judged["hits"])


def failure_message(crawl: str, failures: list[str]) -> str:
    n = len(failures)
    return (f"crawl {crawl!r} reached {n} limit{'s' if n != 1 else ''} with on_limit = \"fail\" "
            f"(the items are stored): " + "; ".join(failures))


def _urls(n: int) -> str:
    return "URL" if n == 1 else "URLs"
