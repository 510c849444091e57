"""Runs a Python program under the profiler: `python -c "from
polyprof._target import main; main()" KEY=VALUE... -- script.py args...`
(what `polyprof record` executes in place of itself; the KEY=VALUE arguments
are the command line's options, checked here before the program starts).

The profile is written at exit, after the interpreter has joined the
program's non-daemon threads, or when the duration ends."""
import atexit
import os
import sys
import threading

from . import _native, _session


def _duration_seconds(text):
    try:
        spec = _native.parse_options("duration=%s" % text)
    except ValueError as e:
        raise SystemExit("polyprof record: --duration %s: %s" % (text, e))
    for item in spec.split(","):
        key, _, value = item.partition("=")
        if key == "duration":   # the core spells it in milliseconds: duration=30000ms
            return int(value[: -len("ms")]) / 1000.0
    raise SystemExit("polyprof record: --duration %s: not understood" % text)


def settings_from(argv):
    """`polyprof record`'s KEY=VALUE arguments up to "--" -> ({"options": the
    core's options, "output", "format", "duration_s"}, the program's argv);
    bad input exits with the message naming it."""
    # The command line passes every option that has a value (its defaults included).
    args = {"alloc_interval": None, "format": None, "duration": None}
    end = argv.index("--")
    for item in argv[:end]:
        key, _, value = item.partition("=")
        args[key] = value
    try:
        opts = _session.core_options(interval_ms=None, mode=args["mode"], native=args["native"] == "1",
                                     alloc_interval=args["alloc_interval"])
        _native.parse_options("interval=%s" % args["interval"])   # the core's check and message
        opts["interval"] = args["interval"]
    except (TypeError, ValueError) as e:
        raise SystemExit("polyprof record: %s" % e)
    output = args["output"]
    try:
        if args["format"] is None:
            _session.check_output_path(output)
        else:
            _native.parse_options("format=%s" % args["format"])
    except (OSError, ValueError) as e:
        raise SystemExit("polyprof record: %s" % e)
    settings = {"options": opts, "output": output, "format": args["format"]}
    if args["duration"]:
        settings["duration_s"] = _duration_seconds(args["duration"])
        opts["duration"] = args["duration"]
    return settings, argv[end + 1:]


def main():
    settings, argv = settings_from(sys.argv[1:])
    output, fmt = settings["output"], settings.get("format")
    program = {}   # the program's own top-level code, to root stacks there
    capture = _session.Capture(settings["options"])
    lock = threading.Lock()
    done = []

    def write():
        with lock:
            if done:
                return
            done.append(True)
            try:
                profiles = capture.finish()
                single = not isinstance(profiles, dict)
                if single:
                    profiles = {"": profiles}
                for mode, prof in profiles.items():
                    if program:
                        # Main-thread stacks start at the program, not in this
                        # runner and runpy; other threads' stacks are kept whole.
                        profiles[mode] = prof.show_from("<module>", program["file"], keep_unmatched=True)
                written = _session.write_profiles(profiles[""] if single else profiles, output, fmt)
                for path, prof in zip(written, profiles.values()):
                    md = prof.metadata
                    if "events_recorded" in md:
                        what = "%d allocation samples" % md["events_recorded"]
                    else:
                        what = "%d samples" % md.get("samples_taken", 0)
                    sys.stderr.write("polyprof: wrote %s (%s, %.1fs)\n" % (path, what, prof.duration_s))
            except Exception as e:
                sys.stderr.write("polyprof: could not write %s: %s\n" % (output, e))

    atexit.register(write)
    duration = settings.get("duration_s")
    if duration:
        timer = threading.Timer(duration, write)
        timer.daemon = True
        timer.start()

    run_program(argv, program, "polyprof record")


def run_program(argv, program, who):
    """Runs `script.py args`, `-m module args` or `-c code args` as
    __main__; program["file"] gets the program's file, program["globals"]
    its top-level names. Those stay alive until the profile is written at
    exit, as `python script.py` keeps __main__'s until after the exit
    handlers: the program's own module-level data is live memory of a heap
    profile taken at exit. (runpy's namespace would otherwise be freed by
    whichever garbage collection came first.)"""
    if argv and argv[0] == "-m":
        if len(argv) < 2:
            sys.exit("%s: -m needs a module name" % who)
        sys.argv = argv[1:]
        import importlib.util
        import runpy

        spec = importlib.util.find_spec(argv[1])
        if spec is not None and spec.origin:
            program["file"] = spec.origin
        program["globals"] = runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    elif argv and argv[0] == "-c":
        if len(argv) < 2:
            sys.exit("%s: -c needs a command" % who)
        sys.argv = ["-c"] + argv[2:]
        program["file"] = "<string>"
        # exec of the text compiles it as "<string>", as `python -c` does;
        # compile() would first check for an AST and so build the ast
        # module's types (a quarter of an empty program's start).
        program["globals"] = {"__name__": "__main__"}
        exec(argv[1], program["globals"])
    else:
        script = argv[0]
        sys.argv = argv
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
        program["file"] = script
        import runpy   # not needed by -c, whose programs are often the smallest

        program["globals"] = runpy.run_path(script, run_name="__main__")

if __name__ == "__main__":
    main()
