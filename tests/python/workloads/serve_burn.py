"""An instance for fleet captures and scrapers: serves the profiling endpoint
on an ephemeral loopback port, prints endpoint=<host:port>, and burns CPU in
a function named argv[1] until its stdin closes.
    python serve_burn.py burn_alpha
"""
import sys
import threading

import polyprof


def burn(stop):
    x = 0
    while not stop.is_set():
        x += sum(i * i for i in range(500))
    return x


def named(fn, name):
    """fn under another name, so each instance's profile says which it is."""
    changes = {"co_name": name}
    if hasattr(fn.__code__, "co_qualname"):
        changes["co_qualname"] = name
    return type(fn)(fn.__code__.replace(**changes), fn.__globals__, name)


def main():
    endpoint = polyprof.serve("127.0.0.1:0")
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("endpoint=%s" % endpoint.address, flush=True)
    named(burn, sys.argv[1])(stop)


main()
