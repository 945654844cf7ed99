"""``chainrule view RUN_DIR [RUN_DIR ...]``: the command's arguments and its run (kept light: the
command line's parser imports this module)."""

import ipaddress
import sys
import webbrowser
from pathlib import Path

DEFAULT_PORT = 6150


def add_arguments(parser):
    """The arguments of ``chainrule view``."""
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR",
                        help="run directories of chainrule train (a run in progress is followed)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 shows the "
                             "runs to anyone who can reach this machine)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                        help=f"port (default {DEFAULT_PORT}, or a free one when it is taken; 0: any free "
                             f"one)")
    parser.add_argument("--no-open", dest="open", action="store_false",
                        help="do not open the page in the web browser")


def run(args):
    """Serve the page until Ctrl-C; returns the exit status."""
    from .server import serve
    for path in args.run_dirs:
        if not path.is_dir():
            print(f"chainrule view: error: {path} is not a directory", file=sys.stderr)
            return 2
    try:
        server = serve(args.run_dirs, args.host, args.port)
    except OSError as error:
        if args.port == 0 or error.errno not in (98, 48):  # EADDRINUSE (Linux, macOS)
            raise
        server = serve(args.run_dirs, args.host, 0)
        print(f"chainrule view: port {args.port} is taken; using {server.server_address[1]}")
    if not _is_loopback(args.host):
        print(f"chainrule view: listening on {args.host}: anyone who can reach this machine can see these "
              f"runs", file=sys.stderr)
    print(f"chainrule view: serving {len(server.runs)} run(s) at {server.url} (Ctrl-C stops)", flush=True)
    if args.open:
        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("chainrule view: stopped", flush=True)
    finally:
        server.server_close()
    return 0


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
