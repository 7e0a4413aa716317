"""Middlewares used by tests of the middleware manager (loaded by import path)."""

from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import DownloaderMiddleware

CALLS: list[str] = []


class Tagging(DownloaderMiddleware):
    def process_request(self, request: Request) -> None:
        CALLS.append("tag.request")
        request.headers["X-Tag"] = "yes"

    def process_response(self, request: Request, response: Response) -> Response:
        CALLS.append("tag.response")
        return response


class Wrong(DownloaderMiddleware):
    def process_response(self, request: Request, response: Response) -> object:
        return "oops"


class ShortCircuit(DownloaderMiddleware):
    def process_request(self, request: Request) -> Response:
        return Response(request.url, 200, "OK", [("Content-Type", "text/html")], b"<p>canned</p>", request, 0.0)
