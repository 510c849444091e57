"""`polyprof serve`: a small web page over the local store, on loopback only.

It lists the stored profiles (newest first), opens each one's flame graph
and diffs two of them; every page that shows a profile is written by the
core's writers. The HTTP server is the standard library's
ThreadingHTTPServer. Profiles are only ever looked up by their plain file
name among the store directory's own files, so no request reaches a path
outside it.
"""
import html
import ipaddress
import os
import re
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

from . import _native
from ._profile import diff as diff_profiles

ENCRYPTED_MAGIC = b"PPSTENC"
ENCRYPTED_SUFFIX = ".enc"
# <service>_<type>_<YYYYMMDDTHHMMSS.mmmZ>_<trigger>[-N].pb.gz, as the store names them
STORE_NAME = re.compile(r"^(?P<service>.+)_(?P<type>[^_]+)_(?P<stamp>\d{8}T\d{6}\.\d{3}Z)_(?P<trigger>.+?)\.pb\.gz")
LOOPBACK_NAMES = ("localhost",)

PAGE_STYLE = """<style>
body{margin:0;font:13px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222}
header{padding:10px 14px;border-bottom:1px solid #ddd}h1{font-size:16px;margin:0}
main{padding:10px 14px}table{border-collapse:collapse}th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}
th{font-weight:600;background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.enc{background:#fff3cd;color:#6b4e00;padding:0 5px;border-radius:3px;font-size:11px}
.bar{margin:10px 0;display:flex;gap:10px;align-items:center}.err{color:#a00}
</style>"""


def is_loopback(host):
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _stamp(entry):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(entry["start"])) if entry.get("start") else "?"


def _is_encrypted(path):
    if path.endswith(ENCRYPTED_SUFFIX):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(len(ENCRYPTED_MAGIC)) == ENCRYPTED_MAGIC
    except OSError:
        return False


class StoreView:
    """The store directory as the pages see it: entries by plain file name."""

    def __init__(self, directory, key_file=None):
        from ._continuous import Store
        self.store = Store(directory, max_age_s=0, max_bytes=0, key_file=key_file)
        self.has_key = bool(key_file or os.environ.get("POLYPROF_STORE_KEY"))
        self.directory = os.path.realpath(self.store.directory)

    def entries(self):
        """Stored profiles, newest first; encrypted files the store's own
        listing leaves out are added from their names."""
        entries = [dict(e) for e in self.store.list()]
        listed = {e["file"] for e in entries}
        for name in sorted(os.listdir(self.directory)):
            if name in listed or not name.endswith(ENCRYPTED_SUFFIX):
                continue
            m = STORE_NAME.match(name)
            start = 0
            if m:
                try:
                    start = time.mktime(time.strptime(m.group("stamp")[:15], "%Y%m%dT%H%M%S")) - time.timezone
                except ValueError:
                    start = 0
            path = os.path.join(self.directory, name)
            entries.append({"file": name, "service": m.group("service") if m else "?",
                            "type": m.group("type") if m else "?", "trigger": m.group("trigger") if m else "?",
                            "start": start, "bytes": os.path.getsize(path)})
        for e in entries:
            e["encrypted"] = _is_encrypted(os.path.join(self.directory, e["file"]))
        entries.sort(key=lambda e: (e["start"], e["file"]), reverse=True)
        return entries

    def path_of(self, name):
        """The file's path when `name` is a plain name of a file in the
        store, else None (no separators, no dot files, nothing outside)."""
        if not name or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
            return None
        path = os.path.realpath(os.path.join(self.directory, name))
        if os.path.dirname(path) != self.directory or not os.path.isfile(path):
            return None
        return path

    def load(self, name):
        """(Profile, None), or (None, (status, message))."""
        path = self.path_of(name)
        if path is None:
            return None, (404, "no profile %r in the store" % name)
        encrypted = _is_encrypted(path)
        if encrypted and not self.has_key:
            return None, (403, "%s is encrypted and this server has no key to read it: start polyprof serve with "
                               "--key-file or POLYPROF_STORE_KEY to open encrypted profiles." % name)
        try:
            return self.store.read(name), None   # the core's reader, which decrypts
        except (OSError, ValueError, _native.PolyprofError) as e:
            return None, (403 if encrypted else 422, "cannot read %s: %s" % (name, e))


def _list_page(view):
    rows = []
    for e in view.entries():
        name = e["file"]
        q = quote(name)
        badge = ' <span class="enc" title="encrypted at rest">encrypted</span>' if e["encrypted"] else ""
        rows.append(
            '<tr data-file="%s"><td><input type="radio" name="base" value="%s" aria-label="base"></td>'
            '<td><input type="radio" name="new" value="%s" aria-label="new"></td>'
            '<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class="num">%s</td>'
            '<td><a class="open" href="/profile?file=%s">%s</a>%s</td></tr>'
            % (html.escape(name), html.escape(name), html.escape(name), html.escape(_stamp(e)),
               html.escape(e["service"]), html.escape(e["type"]), html.escape(e["trigger"]),
               "{:,}".format(e["bytes"]), q, html.escape(name), badge))
    body = ("<p>No profiles in this store yet.</p>" if not rows else
            '<form action="/diff" method="get"><div class="bar"><button id="diff" type="submit">Diff base \u2192 new'
            '</button><label>sample type <input name="sample_index" placeholder="default" size="10"></label>'
            '<span>choose a base and a new profile</span></div>'
            '<table id="profiles"><thead><tr><th>base</th><th>new</th><th>time</th><th>service</th><th>type</th>'
            '<th>trigger</th><th>bytes</th><th>profile</th></tr></thead><tbody>%s</tbody></table></form>'
            % "".join(rows))
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>polyprof store</title>%s</head>'
            '<body><header><h1>polyprof store: %s</h1></header><main>%s</main></body></html>'
            % (PAGE_STYLE, html.escape(view.directory), body))


def _message_page(title, message):
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>%s</title>%s</head><body><header>'
            '<h1>%s</h1></header><main><p class="err" id="message">%s</p><p><a href="/">back to the list</a></p>'
            '</main></body></html>' % (html.escape(title), PAGE_STYLE, html.escape(title), html.escape(message)))


def make_handler(view):
    class Handler(BaseHTTPRequestHandler):
        server_version = "polyprof"

        def log_message(self, format, *args):  # quiet: the page is the interface
            pass

        def _send(self, status, body, ctype="text/html; charset=utf-8"):
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _fail(self, status, message):
            self._send(status, _message_page("polyprof: %d" % status, message))

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            # A page on loopback can still be reached through a DNS name that
            # points at 127.0.0.1 (DNS rebinding): only loopback Host headers.
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
            if not is_loopback(host):
                return self._fail(400, "this server answers on loopback addresses only")
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            one = lambda key: (query.get(key) or [""])[0]
            if url.path == "/":
                return self._send(200, _list_page(view))
            if url.path == "/profile":
                prof, problem = view.load(one("file"))
                if problem:
                    return self._fail(*problem)
                return self._send(200, prof.to_bytes("html"))
            if url.path == "/diff":
                if not one("base") or not one("new"):
                    return self._fail(400, "choose a base and a new profile to diff")
                base, problem = view.load(one("base"))
                new, problem2 = (None, None) if problem else view.load(one("new"))
                if problem or problem2:
                    return self._fail(*(problem or problem2))
                try:
                    page = diff_profiles(base, new, "html", one("sample_index") or None)
                except ValueError as e:
                    return self._fail(422, str(e))
                return self._send(200, page)
            return self._fail(404, "no page %s" % url.path)

    return Handler


def make_server(directory, host="127.0.0.1", port=8080, key_file=None):
    """(server, url): a ThreadingHTTPServer over the store, listening."""
    if not is_loopback(host):
        raise SystemExit("polyprof serve: refusing to listen on %s: the store's profiles would be readable from "
                         "the network; use a loopback address (127.0.0.1, ::1 or localhost)" % host)
    if not os.path.isdir(directory):
        raise SystemExit("polyprof serve: %s is not a directory (give the store: polyprof serve DIR)" % directory)
    try:
        view = StoreView(directory, key_file)
    except (OSError, ValueError, _native.PolyprofError) as e:
        raise SystemExit("polyprof serve: %s" % e)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    try:
        server = Server((host, port), make_handler(view))
    except OSError as e:
        raise SystemExit("polyprof serve: cannot listen on %s:%d: %s" % (host, port, e))
    shown = "[%s]" % host if ":" in host else host
    return server, "http://%s:%d/" % (shown, server.server_address[1])


def serve(directory, host="127.0.0.1", port=8080, key_file=None):
    """Serves until interrupted."""
    server, url = make_server(directory, host, port, key_file)
    sys.stderr.write("polyprof: serving %s at %s (Ctrl-C stops)\n" % (os.path.realpath(directory), url))
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
