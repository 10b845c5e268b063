"""Numbers as people read them: rounded to what their error resolves."""

from __future__ import annotations

import math


def decimals(error) -> int:
    """Decimal places that show two significant digits of ``error`` (four when it is 0 or undefined)."""
    if not (isinstance(error, (int, float)) and math.isfinite(error) and error > 0):
        return 4
    return min(max(0, 1 - math.floor(math.log10(error))), 8)
