"""Exceptions that carry a message a user can act on.

Every error names what is wrong (a file, a config key, a checkpoint) so that the
message in a Snakemake log is enough to fix the input without reading code.
"""


class JanusfitError(Exception):
    """Base class of every error janusfit raises on purpose."""


class ConfigError(JanusfitError):
    """A configuration key has a bad value; the message names the key."""

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(f"config key '{key}': {problem}")


class DataError(JanusfitError):
    """A data file cannot be used; the message names the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"data file '{path}': {problem}")


class LikelihoodError(JanusfitError):
    """The log-likelihood returned NaN; the message lists the parameter values."""


class CheckpointError(JanusfitError):
    """A checkpoint cannot be used (corrupt, locked, or from another version)."""


class LeaseLostError(CheckpointError):
    """Another sampler took this one's checkpoint lease over; the checkpoint is that sampler's now."""


class FingerprintError(CheckpointError):
    """The run's inputs (data, priors, settings, code) differ from those stored with its checkpoint.

    ``differences`` lists them, one ``key: old -> new`` each.
    """

    def __init__(self, message: str, differences=()):
        self.differences = list(differences)
        super().__init__(message)


class ResourceError(JanusfitError):
    """A job would need more memory, disk or cores than it may have."""
