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


class CrawlLimitError(CrawlError):
    """Raised by RunCrawl when its crawl reached a limit (max_pages, max_depth, [budgets],
    max_bytes) whose `on_limit` action is "fail" (pipelines/limits.py).

    FetchPages, ParsePages and StoreItems are done first, so what was collected
    is stored; RunCrawl stays incomplete, so every rerun fails the same way
    until the limit or on_limit changes. The message lists each limit reached.
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


class IgnoreRequest(CrawlError):
    """A middleware drops a request: the URL ends `skipped` or `failed` with `reason`.

    Raised by downloader middlewares (robots: skipped/robots; proxy pool:
    failed/no_live_proxy; redirect: failed/redirect_loop ...); the crawler
    catches it and records the outcome. `response`, when given, is stored.
    """

    def __init__(self, reason: str, outcome: str = "skipped", response: object | None = None) -> None:
        super().__init__(f"{outcome}: {reason}")
        self.reason = reason
        self.outcome = outcome
        self.response = response


class NotConfigured(CrawlError):
    """Raised by a middleware's constructor to leave itself out of the chain.

    The middleware manager catches it; for example user-agent rotation with
    no list of user agents.
    """


class MiddlewareError(CrawlError):
    """A middleware broke the contract: a wrong return value or a bad entry in [middlewares].

    Raised by the middleware manager with the middleware's and the method's
    names; it is a bug in that middleware, so it fails the task.
    """


class StackError(ValueError):
    """The record of the running stack, or a port variable, cannot be used.

    Raised by `pipelines.stack` for a port variable that is not a port
    (LUIGID_PORT=abc), or a var/run/stack.env that is not what
    `./scheduler.sh up` writes. A bad variable propagates (the luigi command
    or webmon stops with the sentence); a bad record is reported on stderr
    and ignored, as if no stack ran.
    """


class WorkflowError(CrawlError):
    """A downstream task (pipelines/workflows/) cannot use what its crawl ticks left.

    Raised by ExportItems and PriceComparison with one sentence: the tick's
    parsed items are gone (its folder was pruned), or an item field clashes
    with an export's own column. The task fails with it and writes nothing.
    """
