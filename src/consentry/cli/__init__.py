"""The ``consentry`` command: thin Typer layers over the library."""
