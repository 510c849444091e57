"""`python -m polyprof._run script.py args` (what `polyprof run` executes):
the environment's configuration starts profiling (polyprof.auto), then the
program runs as __main__."""
import sys

from . import auto  # noqa: F401  (starts profiling when ENABLE_PROFILING says so)
from ._target import run_program


def main():
    run_program(sys.argv[1:], {}, "polyprof run")


if __name__ == "__main__":
    main()
