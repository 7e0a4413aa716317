"""Every exception of the pipelines package: who raises it, who catches it."""


class CrawlError(Exception):
    """Base class of the errors below."""


class SpecError(CrawlError):
    """A crawl spec cannot be loaded.

    Raised by `pipelines.spec.load_spec` with one sentence naming the file,
    the key and what was expected. The tasks let it propagate, so the Luigi
    run fails with that sentence and no stage starts.
    """

    def __init__(self, path: object, key: str | None, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {problem}")


class ParseRatioExceeded(CrawlError):
    """Raised by ParsePages when too many item pages failed to parse.

    Below the ratio, a page that fails becomes an error record and the run
    goes on; above it the task fails so somebody looks at the spec or site.
    """


class FetchAborted(CrawlError):
    """Raised by FetchPages when the crawl cannot start at all.

    For example every start URL failed: an empty WARC would make the later
    stages succeed with nothing and hide the outage.
    """


class FetchError(CrawlError):
    """A URL could not be fetched.

    Raised by the downloader (`pipelines.fetch.http`); the crawler catches it,
    retries when the reason is transient, and otherwise records the URL as
    failed with `reason` (a short stable word used in stats and metrics).
    """

    reason = "error"
    transient = False

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason:
            self.reason = reason


class FetchTimeout(FetchError):
    reason = "timeout"
    transient = True


class ConnectionFailed(FetchError):
    reason = "connection_error"
    transient = True


class ResponseTooLarge(FetchError):
    reason = "too_large"
