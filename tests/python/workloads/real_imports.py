"""Imports real packages freshly: a set of the standard library's and of the
installed third-party packages (pytest, toolz, pip's vendored libraries).
Run with PYTHONPYCACHEPREFIX pointing at an empty directory and
PYTHONDONTWRITEBYTECODE=1, every module is compiled from its source and its
body run once, as on a first start after an install: module code that runs
once and is freed before the profiler names it."""
import importlib
import sys

MODULES = [
    # standard library
    "argparse", "asyncio", "calendar", "concurrent.futures", "configparser", "csv",
    "dataclasses", "decimal", "difflib", "email.mime.multipart", "email.parser",
    "fractions", "ftplib", "http.client", "http.cookiejar", "http.server", "imaplib",
    "inspect", "ipaddress", "json", "logging.handlers", "mailbox", "multiprocessing.pool",
    "optparse", "pathlib", "pdb", "pickletools", "pydoc", "smtplib", "sqlite3",
    "statistics", "tarfile", "textwrap", "tomllib", "typing", "unittest", "urllib.request",
    "uuid", "xml.dom.minidom", "xml.etree.ElementTree", "xmlrpc.client", "zipfile",
    # installed third-party packages
    "pytest", "toolz", "toolz.curried", "pip._internal.cli.main",
    "pip._vendor.rich.console", "pip._vendor.rich.progress", "pip._vendor.requests",
    "pip._vendor.packaging.specifiers", "pip._vendor.pygments.lexers.python",
]

imported = 0
for name in MODULES:
    try:
        importlib.import_module(name)
    except ImportError:
        # tomllib is 3.11+; the others are present on every supported version.
        if name != "tomllib":
            raise
        continue
    imported += 1
print("imported", imported, "modules;", len(sys.modules), "in sys.modules")
