"""Streaming responses: the request is not over when the view returns, but when its body is.

A ``StreamingHttpResponse`` (or ``FileResponse``) leaves the middleware before its body runs: the server
iterates the body afterwards and calls ``close()`` on the response when it is done (WSGI requires it; Django's
ASGI handler and test client do the same). So the middleware hands such a response to :func:`watch`, which:

- wraps the body's iterator (sync or async) so that each ``next()`` runs with the request's context bound:
  log lines written and SQL run by the generator carry the correlation ID and are counted;
- finishes the request exactly once, at the first of: the iterator is exhausted (``complete``), it raises
  (``error``, with the exception classified), or the server closes the response before the end (``aborted``:
  the client went away). Duration, query count and time, the request log line and the metrics are recorded
  then.

A ``FileResponse`` served through the server's ``wsgi.file_wrapper`` (gunicorn and wsgiref use ``sendfile``
with it) is not wrapped, so the server keeps sending the file itself; the request finishes when the server
closes the response.

Python runs a generator in the context of whoever calls ``next()``, which is why the context is set and reset
around each step rather than once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import suppress
from typing import Any, Protocol

from django.http import HttpRequest, StreamingHttpResponse

from . import correlation
from ._failopen import report
from .correlation import RequestState

COMPLETE = "complete"
ERROR = "error"
ABORTED = "aborted"


class Recorder(Protocol):
    """What the middleware offers to finish a request (``RequestMonitoringMiddleware._record``)."""

    def __call__(
        self, request: HttpRequest, status: int, state: RequestState, duration: float, stream: str | None = None
    ) -> None: ...


class StreamEnd:
    """Finishes one streamed request once, whichever way its body ends."""

    __slots__ = ("_done", "_record", "request", "response", "state")

    def __init__(
        self, record: Recorder, request: HttpRequest, response: StreamingHttpResponse, state: RequestState
    ) -> None:
        self._record = record
        self.request = request
        self.response = response
        self.state = state
        self._done = False

    def finish(self, outcome: str, error: BaseException | None = None) -> None:
        """Record duration, queries, the log line and the metrics (the first call only)."""
        if self._done:
            return
        self._done = True
        state = self.state
        if error is not None:
            state.exception = error
        token = correlation.bind(state)
        try:
            duration = time.perf_counter() - state.started
            self._record(self.request, self.response.status_code, state, duration, stream=outcome)
        except Exception as failure:
            report("stream", failure)
        finally:
            correlation.unbind(token)


class SyncStream:
    """The body's iterator, stepped with the request's context bound; ``close()`` ends the request."""

    __slots__ = ("_end", "_iterator")

    def __init__(self, iterator: Iterator[bytes], end: StreamEnd) -> None:
        self._iterator = iterator
        self._end = end

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> bytes:
        end = self._end
        token = correlation.bind(end.state)
        try:
            return next(self._iterator)
        except StopIteration:
            end.finish(COMPLETE)
            raise
        except Exception as error:
            end.finish(ERROR, error)
            raise
        except BaseException:  # the worker is being stopped (SystemExit from a timeout, KeyboardInterrupt)
            end.finish(ABORTED)
            raise
        finally:
            correlation.unbind(token)

    def close(self) -> None:
        """Called by ``response.close()`` (the server, once it is done): ``aborted`` unless already finished."""
        self._end.finish(ABORTED)

    def __del__(self) -> None:
        _finish_unless_done(self._end)


class AsyncStream:
    """The async twin of :class:`SyncStream` (no ``__iter__``, so Django treats it as an async body)."""

    __slots__ = ("_end", "_iterator")

    def __init__(self, iterator: AsyncIterator[bytes], end: StreamEnd) -> None:
        self._iterator = iterator
        self._end = end

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> bytes:
        end = self._end
        # Each asyncio task runs in its own copy of the context: setting and resetting here touches only
        # the task that consumes this body.
        token = correlation.bind(end.state)
        try:
            return await self._iterator.__anext__()
        except StopAsyncIteration:
            end.finish(COMPLETE)
            raise
        except Exception as error:
            end.finish(ERROR, error)
            raise
        except BaseException:  # CancelledError: the client went away and the ASGI handler cancelled the task
            end.finish(ABORTED)
            raise
        finally:
            correlation.unbind(token)

    def close(self) -> None:
        """Called by ``response.close()``, which Django's ASGI handler runs when the response is over."""
        self._end.finish(ABORTED)

    def __del__(self) -> None:
        _finish_unless_done(self._end)


def _finish_unless_done(end: StreamEnd) -> None:
    """Last resort for a body dropped without ``close()`` (Django's ASGI handler does not close the response of
    a task it cancelled between two chunks): record the request as ``aborted`` when the body is collected."""
    with suppress(BaseException):  # at interpreter exit even our reporting may be gone
        end.finish(ABORTED)


def _finish_on_close(response: StreamingHttpResponse, end: StreamEnd) -> None:
    """For a file the server sends itself: the request ends when the server closes the response."""
    close: Callable[[], Any] = response.close

    def close_and_finish() -> None:
        try:
            close()
        finally:
            end.finish(COMPLETE)

    # Django's WSGI handler points the file wrapper's close() at response.close after the middleware ran,
    # so the server's close reaches this function.
    response.close = close_and_finish  # type: ignore[method-assign]


def watch(record: Recorder, request: HttpRequest, response: StreamingHttpResponse, state: RequestState) -> None:
    """Keep the request open until ``response``'s body is done, then ``record`` it."""
    end = StreamEnd(record, request, response, state)
    if getattr(response, "file_to_stream", None) is not None and request.META.get("wsgi.file_wrapper"):
        _finish_on_close(response, end)
    elif response.is_async:
        response.streaming_content = AsyncStream(response.streaming_content, end)  # type: ignore[arg-type]
    else:
        response.streaming_content = SyncStream(response.streaming_content, end)  # type: ignore[arg-type]
