"""``python -m consentry`` and the installed ``consentry`` command (its entry point).

Light on purpose: multiprocessing's workers import the main module of the process that starts
them (the installed command's script, which imports this module; a package's ``__main__`` run
with ``-m`` they skip), and a build's workers need nothing of the command line. The command
line itself is imported when the command runs.
"""

from __future__ import annotations


def main() -> None:
    from consentry.cli.main import run_process

    run_process()


if __name__ == "__main__":
    main()
