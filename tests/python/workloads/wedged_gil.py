"""Serves the local endpoint, then wedges the interpreter: the main thread
enters a catastrophic-backtracking regular expression, which runs in C
(_sre) holding the GIL and never ends in a test's time."""
import re
import sys

import polyprof

endpoint = polyprof.serve(":0")
print(endpoint.port, flush=True)


def stuck_in_regex():
    return re.match(r"(a+)+$", "a" * 64 + "b")


stuck_in_regex()
sys.exit("the regular expression ended")
