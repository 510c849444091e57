"""The Profile a capture returns: a thin view over the core's aggregated profile."""
from collections import namedtuple

from . import _native

Frame = namedtuple("Frame", "name file line kind object")
Frame.__doc__ = "One stack frame. kind is 'python', 'native' or 'special' (named by the profiler)."
Sample = namedtuple("Sample", "frames values labels")
Sample.__doc__ = "One distinct stack: frames leaf first, values per value type, labels dict."


class Profile:
    """An aggregated profile. Write it, report on it, or read its samples."""

    def __init__(self, native):
        self._native = native

    def write(self, path, format=None):
        """Write to path. The format follows the suffix (.pb.gz/.pprof: pprof,
        .folded/.collapsed/.txt: collapsed stacks, .top: text report) unless
        format names one of "pprof", "collapsed", "text"."""
        self._native.write(path, format)

    def to_bytes(self, format="pprof", top=20):
        return self._native.encode(format, top)

    def report(self, top=20, value_index=-1):
        """The top functions by cumulative value, with flat and cumulative shares."""
        return self._native.report(top, value_index)

    def samples(self):
        return [Sample([Frame(*f) for f in frames], values, labels)
                for frames, values, labels in self._native.samples()]

    @property
    def value_types(self):
        return self._native.value_types()

    @property
    def comments(self):
        return self._native.comments()

    @property
    def metadata(self):
        """The core's counters for this capture (samples taken, dropped...)."""
        out = {}
        for line in self.comments:
            key, sep, value = line.partition("=")
            if not sep:
                continue
            try:
                out[key] = int(value)
            except ValueError:
                out[key] = value
        return out

    @property
    def duration_s(self):
        return self._native.duration_ns / 1e9

    def total(self, index=0):
        return sum(s.values[index] for s in self.samples())

    def filter_label(self, key, value):
        return Profile(self._native.filter_label(key, value))

    def show_from(self, function, file=None, keep_unmatched=False):
        """The samples that pass through `function`, with it as their root
        (pprof's show_from): what happened inside it, not above it. Samples
        that never pass through it are dropped, or kept whole."""
        return Profile(self._native.show_from(function, file, keep_unmatched))

    def _name_threads(self, names):
        self._native.name_threads(names)

    def __repr__(self):
        return "<polyprof.Profile %d stacks, %.3fs>" % (len(self._native.samples()), self.duration_s)


def merge(profiles, label=None, values=None):
    """One profile of several with the same sample types (else ValueError
    naming both kinds). With label, the samples of profiles[i] carry
    label=values[i], so that `go tool pprof -tagfocus` splits them again."""
    return Profile(_native.merge_profiles([p._native for p in profiles], label,
                                          None if values is None else [str(v) for v in values]))


def load(path, format=None):
    """Read a profile file back into a Profile: pprof (gzip-compressed or
    not), collapsed stacks, speedscope JSON or Chrome's .cpuprofile, by the
    suffix unless format names one. ValueError for other formats."""
    try:
        fmt = format or _native.format_for_path(path)
    except ValueError as e:
        fmt, suffix_error = "pprof", e   # a file named otherwise may still be pprof
    else:
        suffix_error = None
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"PPSTENC"):
        raise ValueError("%s is encrypted: read it with `polyprof store show` (--key-file or POLYPROF_STORE_KEY) "
                         "or polyprof.Store(key_file=...).read()" % path)
    try:
        return Profile(_native.decode(data, fmt))
    except ValueError as e:
        raise (suffix_error or e) from None


def diff(base, new, format="html", sample_type=None, top=20):
    """The differential profile of new against base (Profiles), as bytes:
    "html" a differential flame graph, "text" the functions whose share
    changed most. sample_type picks the value (e.g. "cpu"); ValueError when
    the profiles have none in common."""
    return _native.diff(base._native, new._native, format, sample_type, top)
