"""HTTP middleware that reports each request's latency to a CircuitBreaker
and/or a TriggeredProfiler:

    app.wsgi_app = polyprof.middleware.WSGILatency(app.wsgi_app, breaker=b, triggered=t)   # Flask
    application = polyprof.middleware.WSGILatency(get_wsgi_application(), breaker=b)       # Django (WSGI)
    app = polyprof.middleware.ASGILatency(app, triggered=t)                                # Starlette, FastAPI, Django (ASGI)

Latency runs from the request's arrival to the end of the response body."""
import time


class _Report:
    def __init__(self, breaker, triggered):
        if breaker is None and triggered is None:
            raise TypeError("give a breaker, a triggered profiler, or both")
        self.breaker = breaker
        self.triggered = triggered

    def __call__(self, ms):
        # Reporting must never break the request it measures.
        try:
            if self.breaker is not None:
                self.breaker.record_latency(ms)
            if self.triggered is not None:
                self.triggered.record_latency(ms)
        except Exception:
            pass


class WSGILatency:
    def __init__(self, app, breaker=None, triggered=None):
        self.app = app
        self._report = _Report(breaker, triggered)

    def __call__(self, environ, start_response):
        t0 = time.monotonic()
        body = self.app(environ, start_response)
        return _TimedBody(body, t0, self._report)


class _TimedBody:
    """The response body, timed until the server has consumed and closed it."""

    def __init__(self, body, t0, report):
        self._body = body
        self._t0 = t0
        self._report = report

    def __iter__(self):
        return iter(self._body)

    def close(self):
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._report((time.monotonic() - self._t0) * 1000.0)


class ASGILatency:
    def __init__(self, app, breaker=None, triggered=None):
        self.app = app
        self._report = _Report(breaker, triggered)

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        t0 = time.monotonic()

        async def timed_send(message):
            await send(message)
            if message.get("type") == "http.response.body" and not message.get("more_body", False):
                self._report((time.monotonic() - t0) * 1000.0)

        return await self.app(scope, receive, timed_send)
