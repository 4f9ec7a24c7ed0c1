"""Why `openstage up` could not start, as one line for the user (printed without a traceback)."""

from __future__ import annotations


class StartupError(Exception):
    """`openstage up` cannot start; str(error) is the whole message, one line saying what is
    wrong and, where there is one, what to do about it."""
