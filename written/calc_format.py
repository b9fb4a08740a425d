"""How the calc_* modules print numbers into the written answers (LaTeX-friendly)."""

from __future__ import annotations

import math


def latex_sci(value: float, digits: int = 2) -> str:
    r"""``4.5 \times 10^{-5}`` for 4.54e-5 with digits=2 (significant digits of the mantissa)."""
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    mantissa = value / 10**exponent
    if round(abs(mantissa), digits - 1) >= 10:  # 9.99 rounding up to 10.0
        mantissa, exponent = mantissa / 10, exponent + 1
    return rf"{mantissa:.{digits - 1}f} \times 10^{{{exponent}}}"
