"""Numbers as people read them: rounded to what their error resolves."""

from __future__ import annotations

import math


def decimals(error) -> int:
    """Decimal places that show two significant digits of ``error`` (four when it is 0 or undefined)."""
    if not (isinstance(error, (int, float)) and math.isfinite(error) and error > 0):
        return 4
    return min(max(0, 1 - math.floor(math.log10(error))), 8)


def plus_minus(value: float, error: float, sign: bool = False) -> str:
    """'-4.5307 ± 0.0090': the value to the decimals that show two significant digits of its error."""
    d = decimals(error)
    return f"{value:{'+' if sign else ''}.{d}f} ± {error:.{d}f}"


def beside(value: float, threshold: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits, more where fewer would print it as ``threshold``.

    "dlogz 0.1 (needs < 0.1)" for 0.10012 reads as a contradiction; this gives "0.10012".
    """
    for places in range(digits, 17):
        text = f"{value:.{places}g}"
        if value == threshold or text != f"{threshold:.{places}g}":
            return text
    return repr(value)


# Units of the parameters that have one, as text and as LaTeX (after the number); the others are dimensionless.
UNITS = {"H0": ("km/s/Mpc", r"\,\mathrm{km\,s^{-1}\,Mpc^{-1}}")}
