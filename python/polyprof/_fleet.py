"""Fleet captures: one CPU capture from each instance's profiling endpoint
(GET /debug/pprof/profile?seconds=N, net/http/pprof's convention), at most
max_concurrent at once, each result stored (trigger "fleet", labelled with its
instance) and all of them merged into one profile whose samples carry
instance=<host:port>. A failed instance does not fail the fleet.

Captures start by hand, on a schedule or from an Alertmanager webhook; all
three go through the core's process-wide rate limiter (pp_rate_limit_*).
The HTTP client is the standard library's (urllib)."""
import collections
import ipaddress
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from . import _native
from ._profile import Profile, merge

INSTANCE_LABEL = "instance"
TRIGGER = "fleet"
MERGED_TRIGGER = "fleet-merged"
TIMEOUT_MARGIN_S = 10.0      # a capture of N seconds may take N + this before it is given up
STATUS_TIMEOUT_S = 5.0
MAX_PROFILE_BYTES = 64 << 20
MAX_RETRY_AFTER_S = 60.0
WEBHOOK_MAX_BODY = 1 << 20
ROUNDS_KEPT = 100            # the webhook's GET /status lists the last rounds


class ParameterError(ValueError):
    """A bad command-line parameter: the message names it."""


# ------------------------------------------------------------------ parameters

class Target:
    """One instance: `label` is host:port (what its samples are labelled
    with), `base` the URL its endpoint paths are appended to."""

    def __init__(self, label, base):
        self.label = label
        self.base = base

    def __repr__(self):
        return "Target(%r)" % self.label


def _host_port(host, port, what):
    if not host:
        raise ParameterError("--targets: %r has no host" % what)
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ParameterError("--targets: %r: the port must be a number" % what) from None
    if not 0 < port < 65536:
        raise ParameterError("--targets: %r: port %d is out of range 1-65535" % (what, port))
    return host.lower(), port


def _label(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def parse_target(text):
    text = text.strip()
    if "://" in text:
        u = urllib.parse.urlsplit(text)
        if u.scheme not in ("http", "https"):
            raise ParameterError("--targets: %r: only http:// and https:// URLs" % text)
        if u.query or u.fragment or u.username or u.password:
            raise ParameterError("--targets: %r: give scheme://host:port[/prefix] without query, fragment "
                                 "or credentials (use --token-file for a token)" % text)
        try:
            port = u.port
        except ValueError:
            raise ParameterError("--targets: %r: bad port" % text) from None
        host, port = _host_port(u.hostname, port or (443 if u.scheme == "https" else 80), text)
        prefix = u.path.rstrip("/")
        return Target(_label(host, port), "%s://%s%s" % (u.scheme, _label(host, port), prefix))
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ParameterError("--targets: %r is not host:port or an http(s) URL" % text)
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            raise ParameterError("--targets: %r is not host:port or an http(s) URL" % text)
    host, port = _host_port(host, port, text)
    return Target(_label(host, port), "http://%s" % _label(host, port))


def parse_targets(text):
    if not text or not text.strip():
        raise ParameterError("--targets: give at least one host:port (comma-separated)")
    targets, seen = [], set()
    for item in text.split(","):
        if not item.strip():
            raise ParameterError("--targets: empty entry in %r" % text)
        t = parse_target(item)
        if t.base in seen:
            raise ParameterError("--targets: duplicate target %r" % item.strip())
        seen.add(t.base)
        targets.append(t)
    return targets


def duration_s(text, flag):
    """A duration in the core's grammar (30s, 10m, 1h; bare = seconds)."""
    try:
        ns = _native.options_values("duration=%s" % text)["duration"]
    except ValueError as e:
        raise ParameterError("%s %s: %s" % (flag, text, e)) from None
    return int(ns[:-2]) / 1e9


def capture_cap_s():
    """The configured maximum of one capture: PROFILE_MAX_DURATION (the
    environment's production configuration, default 60 s, at most 300 s)."""
    try:
        cfg = _native.env_config()
    except ValueError as e:
        raise ParameterError("--seconds: the configured maximum cannot be read: %s" % e) from None
    return int(int(cfg["options"]["duration"][:-2]) / 1e9)


def parse_seconds(text):
    cap = capture_cap_s()
    try:
        seconds = int(text)
    except (TypeError, ValueError):
        raise ParameterError("--seconds %s: expected a whole number of seconds" % text) from None
    if not 1 <= seconds <= cap:
        raise ParameterError("--seconds %s: expected 1 to %d (the maximum of one capture, "
                             "PROFILE_MAX_DURATION)" % (text, cap))
    return seconds


def parse_positive_int(text, flag, minimum=1):
    try:
        n = int(text)
    except (TypeError, ValueError):
        raise ParameterError("%s %s: expected a whole number" % (flag, text)) from None
    if n < minimum:
        raise ParameterError("%s %s: expected at least %d" % (flag, text, minimum))
    return n


def parse_rate_limit(text):
    """N/DURATION, as the JVM agent's rate_limit=1/300s: at most N captures per DURATION."""
    n, sep, window = (text or "").partition("/")
    if not sep:
        raise ParameterError("--rate-limit %s: expected N/DURATION, e.g. 1/300s" % text)
    try:
        n = int(n)
    except ValueError:
        raise ParameterError("--rate-limit %s: N must be a whole number" % text) from None
    window_s = duration_s(window, "--rate-limit")
    try:
        _native.rate_limit(n, window_s)    # the core's bounds and message
    except (ValueError, OverflowError) as e:
        raise ParameterError("--rate-limit %s: %s" % (text, e)) from None
    return n, window_s


def read_token(path):
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as e:
        raise ParameterError("--token-file %s: %s" % (path, e.strerror or e)) from None
    if not token or any(c.isspace() for c in token):
        raise ParameterError("--token-file %s: expected one token on one line" % path)
    return token


def parse_listen(text):
    """host:port on loopback only: the webhook starts captures across the
    fleet and has no authentication of its own."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ParameterError("--listen %s: expected host:port, e.g. 127.0.0.1:9095" % text)
    try:
        port = int(port)
        if not 0 <= port < 65536:
            raise ValueError
    except ValueError:
        raise ParameterError("--listen %s: bad port" % text) from None
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except socket.gaierror as e:
        raise ParameterError("--listen %s: %s" % (text, e.strerror)) from None
    if not addrs or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        raise ParameterError("--listen %s: not a loopback address; the alert webhook listens on loopback only "
                             "(127.0.0.1 or ::1), put a proxy in front to reach it from elsewhere" % text)
    return host, port


# ------------------------------------------------------------------ one instance

class Result:
    def __init__(self, target):
        self.target = target
        self.ok = False
        self.reason = ""
        self.profile = None
        self.service = None
        self.path = None
        self.attempts = 0
        self.start = None

    @property
    def samples(self):
        return count_samples(self.profile) if self.profile is not None else 0


def count_samples(profile):
    """Samples the profile stands for: its "samples" value when it has one,
    else its distinct stacks."""
    types = [t for t, _ in profile.value_types]
    rows = profile.samples()
    if "samples" in types:
        i = types.index("samples")
        return sum(s.values[i] for s in rows)
    return len(rows)


def profile_type(profile):
    types = {t for t, _ in profile.value_types}
    for kind in ("wall", "cpu", "alloc"):
        if kind in types or (kind == "alloc" and "alloc_space" in types):
            return kind
    return "cpu"


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # instances are reached directly


def _request(url, token, timeout):
    req = urllib.request.Request(url, headers={"User-Agent": "polyprof-fleet"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    return _opener.open(req, timeout=timeout)


def _reason(e):
    """A short reason for a failed request."""
    if isinstance(e, urllib.error.HTTPError):
        try:
            body = e.read(300).decode("utf-8", "replace").strip().splitlines()
        except Exception:
            body = []
        return "HTTP %d %s%s" % (e.code, e.reason, (": " + body[0]) if body else "")
    if isinstance(e, urllib.error.URLError):
        e = e.reason
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__


def _read_capped(resp, deadline):
    chunks, total = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        chunk = resp.read(1 << 16)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > MAX_PROFILE_BYTES:
            raise ValueError("response larger than %d MiB" % (MAX_PROFILE_BYTES >> 20))
        chunks.append(chunk)


def _retry_after(e, fallback):
    value = e.headers.get("Retry-After") if e.headers is not None else None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except (TypeError, ValueError):
        return fallback


class Fleet:
    """The capture path every trigger shares: capture() asks every target
    for a capture of `seconds`, at most max_concurrent at once, stores each
    result and the merge, and returns a Round."""

    def __init__(self, targets, seconds, store, max_concurrent=2, token=None, service=None, output=None,
                 retries=3, backoff_s=0.5, margin_s=TIMEOUT_MARGIN_S):
        self.targets = list(targets)
        self.seconds = int(seconds)
        self.store = store
        self.max_concurrent = max(1, int(max_concurrent))
        self.token = token
        self.service = service
        self.output = output
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.margin_s = float(margin_s)
        self._stop = threading.Event()

    def stop(self):
        """Abandons waits between retries (Ctrl-C)."""
        self._stop.set()

    def _status_service(self, target):
        try:
            with _request(target.base + "/polyprof/status", self.token, STATUS_TIMEOUT_S) as resp:
                status = json.loads(resp.read(1 << 16).decode("utf-8"))
            service = status.get("service") if isinstance(status, dict) else None
            return service if isinstance(service, str) and service else None
        except Exception:
            return None   # an older endpoint or a proxy without it: the capture itself decides

    def capture_one(self, target):
        r = Result(target)
        url = "%s/debug/pprof/profile?seconds=%d" % (target.base, self.seconds)
        backoff = self.backoff_s
        r.service = self.service or self._status_service(target) or "fleet"
        while True:
            r.attempts += 1
            r.start = time.time()
            deadline = time.monotonic() + self.seconds + self.margin_s
            try:
                with _request(url, self.token, self.seconds + self.margin_s) as resp:
                    data = _read_capped(resp, deadline)
                break
            except urllib.error.HTTPError as e:
                if e.code == 429 and r.attempts <= self.retries and not self._stop.is_set():
                    wait = _retry_after(e, backoff)
                    backoff *= 2
                    if self._stop.wait(wait):
                        r.reason = "interrupted"
                        return r
                    continue
                r.reason = _reason(e)
                if e.code == 429:
                    r.reason = "busy (HTTP 429) after %d attempt(s)" % r.attempts
                return r
            except Exception as e:
                r.reason = _reason(e)
                return r
        try:
            native = _native.decode_pprof(data)
        except ValueError as e:
            r.reason = "not a pprof profile: %s" % e
            return r
        try:
            r.profile = merge([Profile(native)], INSTANCE_LABEL, [target.label])
            r.path = self.store.put(r.profile, r.service, profile_type(r.profile), TRIGGER, r.start)
        except (ValueError, OSError, _native.PolyprofError) as e:
            r.reason = "could not store the profile: %s" % e
            return r
        r.ok = True
        return r

    def capture(self):
        """One round over every target; never raises for a failed target."""
        results = [None] * len(self.targets)
        pending = list(enumerate(self.targets))
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    if not pending:
                        return
                    i, t = pending.pop(0)
                try:
                    results[i] = self.capture_one(t)
                except Exception as e:     # a bug must not lose the other instances' results
                    results[i] = Result(t)
                    results[i].reason = "internal error: %r" % (e,)

        # Daemon threads: Ctrl-C must not wait for captures still running.
        threads = [threading.Thread(target=worker, name="polyprof-fleet", daemon=True)
                   for _ in range(min(self.max_concurrent, len(self.targets)))]
        for th in threads:
            th.start()
        for th in threads:
            while th.is_alive():
                th.join(0.2)
        rnd = Round(results)
        rnd.merge(self)
        return rnd


class Round:
    def __init__(self, results):
        self.results = results
        self.merged = None
        self.merged_paths = []
        self.merge_error = None

    @property
    def ok(self):
        return [r for r in self.results if r.ok]

    @property
    def exit_code(self):
        return 0 if len(self.ok) == len(self.results) and not self.merge_error else 1

    def merge(self, fleet):
        ok = self.ok
        if not ok:
            self.merge_error = "no instance returned a profile"
            return
        try:
            self.merged = merge([r.profile for r in ok], INSTANCE_LABEL, [r.target.label for r in ok])
        except ValueError as e:
            self.merge_error = str(e)
            return
        services = {r.service for r in ok}
        service = fleet.service or (services.pop() if len(services) == 1 else "fleet")
        try:
            self.merged_paths.append(fleet.store.put(self.merged, service, profile_type(self.merged), MERGED_TRIGGER,
                                                     min(r.start for r in ok)))
            if fleet.output:
                self.merged.write(fleet.output)
                self.merged_paths.append(fleet.output)
        except (ValueError, OSError, _native.PolyprofError) as e:
            self.merge_error = "could not write the merged profile: %s" % e

    def summary(self):
        lines = ["polyprof fleet: %d of %d instance(s) ok" % (len(self.ok), len(self.results))]
        width = max(len(r.target.label) for r in self.results)
        for r in self.results:
            if r.ok:
                lines.append("  %-*s  ok      %8d samples  %s%s" % (width, r.target.label, r.samples, r.path,
                                                                  "  (%d attempts: busy before)" % r.attempts
                                                                  if r.attempts > 1 else ""))
            else:
                lines.append("  %-*s  failed  %s" % (width, r.target.label, r.reason))
        if self.merged is not None and not self.merge_error:
            lines.append("merged: %d instance(s), %d samples -> %s"
                         % (len(self.ok), count_samples(self.merged), ", ".join(self.merged_paths)))
        else:
            lines.append("merged: not written: %s" % self.merge_error)
        return "\n".join(lines) + "\n"

    def to_json(self):
        return {"ok": len(self.ok), "instances": len(self.results),
                "results": [{"instance": r.target.label, "ok": r.ok, "reason": r.reason,
                             "samples": r.samples, "path": r.path} for r in self.results],
                "merged": self.merged_paths, "merge_error": self.merge_error}


# ------------------------------------------------------------------ triggers

class RateLimiter:
    """The core's process-wide limiter, as the latency triggers use it: at
    most n captures per window (pp_rate_limit_configure / pp_trigger_manual)."""

    def __init__(self, n, window_s):
        _native.rate_limit(int(n), float(window_s))
        self._trigger = _native.trigger_new(1.0, 0.0)
        self._lock = threading.Lock()
        self.n, self.window_s = n, window_s

    def take(self, now_ns=None):
        with self._lock:
            return _native.trigger_manual(self._trigger, _native.now_ns() if now_ns is None else now_ns)


def run_every(fleet, every_s, limiter, out=None):
    """A round now, then one every every_s, until interrupted; the next
    round is due every_s after the previous one started."""
    out = out or sys.stdout
    while True:
        now = _native.now_ns()
        if limiter.take(now):
            rnd = fleet.capture()
            out.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + rnd.summary())
            out.flush()
        else:
            out.write("polyprof fleet: round skipped by the rate limit (%d per %gs)\n" % (limiter.n, limiter.window_s))
            out.flush()
        due = now + int(every_s * 1e9)
        while True:
            left = (due - _native.now_ns()) / 1e9
            if left <= 0:
                break
            time.sleep(min(left, 0.5))


class AlertWebhook:
    """Alertmanager's webhook on loopback: a POST whose JSON has a firing
    alert starts a round (in the background, under the rate limit, one at a
    time); resolved alerts are ignored; a malformed body gets 400. GET
    /status reports the rounds so far."""

    def __init__(self, fleet, limiter, host="127.0.0.1", port=9095, out=None):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.fleet = fleet
        self.limiter = limiter
        self.out = out or sys.stdout
        self.rounds = collections.deque(maxlen=ROUNDS_KEPT)
        self._busy = threading.Lock()
        self._thread = None
        hook = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "polyprof-fleet"

            def log_message(self, fmt, *args):
                pass

            def _reply(self, code, body):
                data = (json.dumps(body) + "\n").encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _local(self):
                if ipaddress.ip_address(self.client_address[0].split("%")[0]).is_loopback:
                    return True
                self._reply(403, {"error": "loopback clients only"})
                return False

            def do_GET(self):
                if not self._local():
                    return
                if self.path.split("?")[0] != "/status":
                    return self._reply(404, {"error": "POST alerts to any path; GET /status"})
                self._reply(200, hook.status())

            def do_POST(self):
                if not self._local():
                    return
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    self.close_connection = True
                    return self._reply(411, {"error": "Content-Length required"})
                if length < 0 or length > WEBHOOK_MAX_BODY:
                    self.close_connection = True
                    return self._reply(413, {"error": "body larger than %d bytes" % WEBHOOK_MAX_BODY})
                try:
                    payload = json.loads(self.rfile.read(length).decode("utf-8"))
                except (ValueError, UnicodeDecodeError) as e:
                    return self._reply(400, {"error": "malformed JSON: %s" % e})
                alerts = payload.get("alerts") if isinstance(payload, dict) else None
                if not isinstance(alerts, list):
                    return self._reply(400, {"error": "expected an Alertmanager webhook: {\"alerts\": [...]}"})
                firing = [a for a in alerts if isinstance(a, dict) and a.get("status") == "firing"]
                if not firing:
                    return self._reply(200, {"status": "ignored", "reason": "no firing alert"})
                names = sorted({str(a["labels"].get("alertname", "?")) if isinstance(a.get("labels"), dict)
                                else "?" for a in firing})
                code, body = hook.fire(names)
                self._reply(code, body)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True

    @property
    def address(self):
        host, port = self.server.server_address[:2]
        return "%s:%d" % ("[%s]" % host if ":" in host else host, port)

    def fire(self, alertnames):
        if not self._busy.acquire(blocking=False):
            return 429, {"status": "busy", "reason": "a fleet capture is already running"}
        if not self.limiter.take():
            self._busy.release()
            return 429, {"status": "rate-limited",
                         "reason": "at most %d capture(s) per %gs" % (self.limiter.n, self.limiter.window_s)}
        self.out.write("polyprof fleet: alert %s firing: capturing %d instance(s) for %ds\n"
                       % (",".join(alertnames), len(self.fleet.targets), self.fleet.seconds))
        self.out.flush()

        def run():
            try:
                rnd = self.fleet.capture()
                self.rounds.append(dict(rnd.to_json(), alerts=alertnames))
                self.out.write(rnd.summary())
                self.out.flush()
            finally:
                self._busy.release()

        threading.Thread(target=run, name="polyprof-fleet-round", daemon=True).start()
        return 202, {"status": "capturing", "instances": len(self.fleet.targets), "seconds": self.fleet.seconds}

    def status(self):
        return {"rounds": list(self.rounds), "capturing": self._busy.locked()}

    def serve_forever(self):
        self.server.serve_forever(poll_interval=0.2)

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, name="polyprof-fleet-webhook", daemon=True)
        self._thread.start()
        return self

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.fleet.stop()


# ------------------------------------------------------------------ command line
# (its arguments are defined in _fleet_args.py, which the command line loads
# without this module)

def _fleet_from_args(args):
    """Every parameter checked before anything is asked of an instance; the
    store directory (created if missing) last."""
    targets = parse_targets(args.targets)
    seconds = parse_seconds(args.seconds)
    max_concurrent = parse_positive_int(args.max_concurrent, "--max-concurrent")
    retries = parse_positive_int(args.retries, "--retries", minimum=0)
    every_s = None
    if getattr(args, "every", None) is not None:
        every_s = duration_s(args.every, "--every")
        if every_s < seconds:
            raise ParameterError("--every %s: shorter than one capture (--seconds %d)" % (args.every, seconds))
    if args.rate_limit is not None:
        rate = parse_rate_limit(args.rate_limit)
    else:
        rate = (1, every_s if every_s is not None else 300.0)
    listen = parse_listen(args.listen) if args.fleet_cmd == "serve" else None
    token = read_token(args.token_file) if args.token_file else None
    if args.service is not None:
        try:
            _native.parse_options("service=%s" % args.service)
        except ValueError as e:
            raise ParameterError("--service %s: %s" % (args.service, e)) from None
    if args.output:
        from ._session import check_output_path
        try:
            check_output_path(args.output)
        except (OSError, ValueError) as e:
            raise ParameterError("-o %s: %s" % (args.output, e)) from None
    from ._continuous import Store
    try:
        store = Store(args.out, key_file=args.key_file)
    except (ValueError, OSError, _native.PolyprofError) as e:
        if "key" in str(e):
            raise ParameterError("--key-file %s: %s" % (args.key_file or "($POLYPROF_STORE_KEY)", e)) from None
        raise ParameterError("--out %s: %s" % (args.out or os.environ.get("POLYPROF_STORE") or "profiles", e)) from None
    fleet = Fleet(targets, seconds, store, max_concurrent=max_concurrent, token=token, service=args.service,
                  output=args.output, retries=retries)
    return fleet, every_s, rate, listen


def main(args):
    who = "polyprof fleet %s" % args.fleet_cmd
    try:
        fleet, every_s, (n, window_s), listen = _fleet_from_args(args)
    except ParameterError as e:
        sys.stderr.write("%s: %s\n" % (who, e))
        return 2
    limiter = RateLimiter(n, window_s)
    try:
        if listen is not None:
            try:
                hook = AlertWebhook(fleet, limiter, *listen)
            except OSError as e:
                sys.stderr.write("%s: --listen %s: %s\n" % (who, args.listen, e.strerror or e))
                return 2
            sys.stderr.write("polyprof fleet: listening on http://%s/ for Alertmanager webhooks (%d instance(s), "
                             "at most %d capture(s) per %gs)\n" % (hook.address, len(fleet.targets), n, window_s))
            sys.stderr.flush()
            try:
                hook.serve_forever()
            finally:
                hook.close()
            return 0
        if every_s is not None:
            run_every(fleet, every_s, limiter)
            return 0
        if not limiter.take():
            sys.stderr.write("%s: refused by the rate limit\n" % who)
            return 1
        rnd = fleet.capture()
        sys.stdout.write(rnd.summary())
        return rnd.exit_code
    except KeyboardInterrupt:
        fleet.stop()
        sys.stderr.write("polyprof fleet: stopped\n")
        return 0 if listen is not None or every_s is not None else 130
