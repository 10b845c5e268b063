"""Cosmological models, registered by name.

Every module of this package is imported here, so a model defined in a new
module ``janusfit/models/<name>.py`` is registered without touching any other
file.
"""

import importlib
import pkgutil

from .base import MODELS, Model, get_model
from .quadrature import RedshiftGrid

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "quadrature"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["MODELS", "Model", "RedshiftGrid", "get_model"]
