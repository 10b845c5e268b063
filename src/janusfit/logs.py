"""Logging for rule scripts: one log file per job, errors stated once, plainly."""

from __future__ import annotations

import logging
import sys
import traceback
from contextlib import contextmanager

from .errors import JanusfitError


def job_logger(path, name: str = "janusfit") -> logging.Logger:
    """A logger writing to the job's log file and to stderr."""
    logger = logging.getLogger(f"{name}:{path}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    for handler in (logging.FileHandler(path, mode="a"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").addHandler(logger.handlers[0])
    return logger


@contextmanager
def reported(logger: logging.Logger):
    """Log a janusfit error as its message alone and exit 1; log anything else with its traceback.

    A janusfit error is about the input (a config key, a data file, a
    checkpoint), so the message is what the user needs, not a stack trace.
    """
    try:
        yield
    except JanusfitError as exc:
        logger.error(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        logger.error("interrupted")
        sys.exit(130)
    except Exception:
        logger.error("unexpected error:\n%s", traceback.format_exc())
        raise
