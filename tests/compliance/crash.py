"""`consentry ARGS…` in a process that dies at one point, as if killed there (``os._exit``: no
cleanup, no ``finally``), for the crash tests: ``python crash.py POINT ARGS…``.

Points: ``before-publish`` and ``after-publish`` (a snapshot build, either side of the atomic
rename that publishes it), ``before-scan`` (an erasure, its content removed, before it tells
the holders and writes its certificate).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, Final

from consentry.compliance.scanner import Scanner
from consentry.snapshot.writer import WorkFolder

#: The exit status of a process that died at the point.
KILLED: Final = 17


def _die(*_: Any, **__: Any) -> None:
    os._exit(KILLED)


def _then_die(original: Callable[..., Any]) -> Callable[..., None]:
    def run(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        os._exit(KILLED)

    return run


def main(point: str, args: list[str]) -> None:
    if point == "before-publish":
        WorkFolder.publish = _die  # type: ignore[method-assign]
    elif point == "after-publish":
        WorkFolder.publish = _then_die(WorkFolder.publish)  # type: ignore[method-assign]
    elif point == "before-scan":
        Scanner.run = _die  # type: ignore[method-assign,assignment]
    else:
        raise SystemExit(f"unknown point {point!r}")
    from consentry.cli.main import app

    app(args)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
