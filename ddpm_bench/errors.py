"""Errors that carry a one-line message meant for the user.

The CLI prints ``str(error)`` of these and exits non-zero, never a traceback. Anything else that escapes is a bug.
"""


class BenchError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class ConfigError(BenchError, ValueError):
    """A scheduler, sweep or model option that is unknown, of the wrong type or out of range."""


class PluginError(BenchError):
    """A plugin that failed to load or registered something invalid (raised only in strict mode)."""


class SamplingError(BenchError):
    """A sampling run that produced non-finite values or broke the scheduler protocol."""
