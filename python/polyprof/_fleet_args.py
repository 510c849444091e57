"""`polyprof fleet`'s arguments, apart from the fleet itself: every
command of the CLI builds the whole parser, and `polyprof record` should not
pay for importing the fleet's HTTP client and server to do so."""


def _main(args):
    from ._fleet import main

    return main(args)


def add_parser(sub):
    f = sub.add_parser("fleet", help="capture from many instances' profiling endpoints and merge the profiles")
    fsub = f.add_subparsers(dest="fleet_cmd", required=True)
    c = fsub.add_parser("capture", help="one capture from every target (or one every --every), stored and merged",
                        usage="polyprof fleet capture --targets host:port,... [--seconds 30] [options]")
    s = fsub.add_parser("serve", help="start fleet captures from Alertmanager webhooks (loopback only)",
                        usage="polyprof fleet serve --targets host:port,... [--listen 127.0.0.1:9095] [options]")
    for p in (c, s):
        p.add_argument("--targets", required=True,
                       help="comma-separated host:port or http(s)://host:port[/prefix] of instances serving "
                            "/debug/pprof/profile")
        p.add_argument("--seconds", default="30", help="length of each capture (default 30, at most "
                                                       "PROFILE_MAX_DURATION, default 60)")
        p.add_argument("--max-concurrent", default="2", help="captures running at once (default 2)")
        p.add_argument("--out", default=None, help="the store directory for the profiles "
                                                  "(default: $POLYPROF_STORE or ./profiles)")
        p.add_argument("-o", "--output", default=None, help="also write the merged profile here (.pb.gz, .html, ...)")
        p.add_argument("--token-file", default=None, help="file holding the endpoints' bearer token")
        p.add_argument("--key-file", default=None, help="encrypt the stored profiles with this key "
                                                       "(default: $POLYPROF_STORE_KEY; -o is not encrypted)")
        p.add_argument("--service", default=None, help="service name for stored files (default: each "
                                                      "instance's /polyprof/status)")
        p.add_argument("--retries", default="3", help="retries of an instance that answers 429 busy (default 3)")
        p.add_argument("--rate-limit", default=None,
                       help="at most N fleet captures per DURATION, e.g. 1/300s (default: 1 per --every for a "
                            "schedule, 1/300s for serve)")
    c.add_argument("--every", default=None, help="repeat: one capture now, then one every DURATION (e.g. 10m) "
                                                 "until interrupted")
    s.add_argument("--listen", default="127.0.0.1:9095", help="loopback address:port (default 127.0.0.1:9095; "
                                                               "port 0 picks one)")
    f.set_defaults(func=_main)
