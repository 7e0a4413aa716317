"""Errors of external crawler tasks: raised in their run(), so luigi records them as the task's failure.

Each message is one sentence a person can act on; RunContext stores it
(masked) as the run record's error.
"""

from __future__ import annotations


class ExternalError(Exception):
    """Base of the errors below."""


class BadCommand(ExternalError):
    """A parameter names something that cannot be run (no such file, no scrapy.cfg, no spider name)."""


class ScrapyMissing(ExternalError):
    """ScrapySpider ran in a Python without Scrapy (the optional extra)."""


class ChildFailed(ExternalError):
    """The crawler exited with a non-zero code or was killed by a signal (a negative `returncode`)."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode


class ChildTimedOut(ExternalError):
    """The crawler ran longer than timeout_seconds; its process group was stopped."""


class ChildTerminated(ExternalError):
    """The worker got SIGTERM while the crawler ran; its process group was stopped."""


class SpiderNotFinished(ExternalError):
    """The spider closed with a finish_reason that is not one of ok_finish_reasons (e.g. closespider_errorcount)."""
