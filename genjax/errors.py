"""Errors a user can cause. The CLI prints them as one line, without a traceback."""


class GenjaxError(Exception):
    """Base class of user-facing errors: the message names the problem and the fix."""


class ConfigError(GenjaxError, ValueError):
    """A bad config key, type or value."""


class DataError(GenjaxError, ValueError):
    """Unknown dataset, data that is not prepared, wrong shapes or non-finite values."""


class CheckpointError(GenjaxError):
    """A workdir whose checkpoints cannot be used with this config."""


class NonFiniteError(GenjaxError, FloatingPointError):
    """A run whose loss or parameters became NaN or infinite (it stops before saving them)."""
