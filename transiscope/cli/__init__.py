"""The ``transiscope`` command: runs the same code as the DAGs, in-process, without Airflow.

Errors caused by input (config, sources, queries) print one line and exit with status 2; a run
where some source failed prints the summary, then one line per failure, and exits with status 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from transiscope.cli.parser import build_parser
from transiscope.core.errors import TransiscopeError
from transiscope.settings import Settings

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.home:
            os.environ["TRANSISCOPE_HOME"] = str(args.home.resolve())
        settings = Settings.from_env()
        return args.func(args, settings)
    except TransiscopeError as exc:
        print(f"transiscope: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("transiscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
