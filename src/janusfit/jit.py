"""numba kernels compiled, or loaded from numba's on-disk cache, on their first call rather than at import.

Importing numba costs 0.3–1.4 s, and every job imports the models (the config
validates model names against them) and many import the likelihood package,
but only the jobs that evaluate a likelihood run a kernel. :func:`njit` takes
numba's options and defers them: the first call imports numba, compiles the
function (``cache=True`` loads it from the cache instead) and puts numba's
dispatcher in the kernel's place in its module, so later calls through the
module reach numba directly, exactly as a module-level ``numba.njit`` would.
A kernel's other numba globals (``prange``, a LAPACK binding) are
:class:`Deferred` in the module until then, for the same reason.
"""

from __future__ import annotations

import functools


def njit(**options):
    """``numba.njit(**options)``, applied on the function's first call."""

    def defer(func):
        return Kernel(func, options)

    return defer


class Deferred:
    """A module global that needs numba (``factory(numba)`` makes it), put in place when a kernel using it compiles."""

    def __init__(self, factory):
        self.factory = factory

    def resolve(self):
        import numba

        return self.factory(numba)


# numba recognises its parallel loop by identity, so kernels name numba's own object.
prange = Deferred(lambda numba: numba.prange)


class Kernel:
    """A function waiting to be compiled by ``numba.njit`` with ``options``."""

    def __init__(self, func, options: dict):
        functools.update_wrapper(self, func)
        self.py_func = func
        self.options = options
        self.dispatcher = None

    def compiled(self):
        """numba's dispatcher for the function, which from now on stands in the module for this kernel."""
        if self.dispatcher is not None:
            return self.dispatcher
        namespace = self.py_func.__globals__
        # numba types the kernels this one calls from the module's globals as it
        # compiles it, so they must be numba's dispatchers by then.
        for name in self.py_func.__code__.co_names:
            value = namespace.get(name)
            if isinstance(value, Kernel):
                value.compiled()
            elif isinstance(value, Deferred):
                namespace[name] = value.resolve()
        import numba

        self.dispatcher = numba.njit(**self.options)(self.py_func)
        namespace[self.__name__] = self.dispatcher
        return self.dispatcher

    def __call__(self, *args):
        return self.compiled()(*args)
