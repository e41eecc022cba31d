"""User-facing errors: the CLI prints their message on one line and exits non-zero, no traceback."""


class UserError(Exception):
    """Bad input or environment: the message names the problem and the fix."""
