"""Numbers and checks behind written/normalisation.md (pre- and post-activation SLN gradients).

SLN(h) = h / ||h||,  PreSLN(h) = sigma(SLN(h)),  PostSLN(h) = SLN(sigma(h)), sigma element-wise.
Letters: d the width of h; J[j, i] = d output_j / d h_i (rows index outputs, columns inputs).
"""

from __future__ import annotations

from fractions import Fraction

import torch

# The concrete ReLU example of the answer: unit 1 is dead (h_1 < 0), units 2 and 3 are alive.
EXAMPLE_H = (-1.0, 2.0, 2.0)
DEAD = 0  # index of the dead unit (h_1 in the answer's 1-based notation)


def sln(h: torch.Tensor) -> torch.Tensor:
    """h / ||h|| for a vector h of shape (d,)."""
    return h / h.norm()


def pre_sln(h: torch.Tensor, act=torch.relu) -> torch.Tensor:
    return act(sln(h))


def post_sln(h: torch.Tensor, act=torch.relu) -> torch.Tensor:
    return sln(act(h))


def jacobian(fn, h: torch.Tensor) -> torch.Tensor:
    """J[j, i] = d fn(h)_j / d h_i by autograd, shape (d, d)."""
    return torch.autograd.functional.jacobian(fn, h)


def pre_sln_closed_form(h: torch.Tensor, dact) -> torch.Tensor:
    """The answer's formula for i != j: -sigma'(z_j) h_i h_j / ||h||^3 (diagonal left at zero)."""
    z = sln(h)
    jac = -dact(z)[:, None] * h[None, :] * h[:, None] / h.norm() ** 3  # (d, d): row j, column i
    return jac - torch.diag(torch.diagonal(jac))


def post_sln_closed_form(h: torch.Tensor, act, dact) -> torch.Tensor:
    """The answer's formula for i != j: -sigma'(h_i) sigma(h_i) sigma(h_j) / ||sigma(h)||^3."""
    s = act(h)
    jac = -dact(h)[None, :] * s[None, :] * s[:, None] / s.norm() ** 3  # (d, d): row j, column i
    return jac - torch.diag(torch.diagonal(jac))


def relu_derivative(x: torch.Tensor) -> torch.Tensor:
    return (x > 0).to(x.dtype)


def example_columns() -> dict[str, list[Fraction]]:
    """Exact d output_j / d h_1 for the example, j = 1..d, for PreSLN and PostSLN with ReLU.

    PreSLN: -relu'(z_j) h_1 h_j / ||h||^3 for j != 1, and 0 for j = 1 (z_1 < 0, relu flat there).
    PostSLN: relu'(h_1) = 0 makes every entry of the column vanish.
    """
    h = [Fraction(int(v)) for v in EXAMPLE_H]
    norm_sq = sum(v * v for v in h)
    norm = Fraction(3)
    assert norm * norm == norm_sq  # the example is chosen so that ||h|| is an integer
    pre = [Fraction(0) if j == DEAD or h[j] <= 0 else -h[DEAD] * h[j] / norm**3 for j in range(len(h))]
    post = [Fraction(0) for _ in h]
    return {"pre": pre, "post": post, "norm": [norm]}


def revival_step() -> Fraction:
    """d loss / d h_1 under PreSLN for loss = -(PreSLN_2 + PreSLN_3) (a loss asking units 2, 3 to grow)."""
    pre = example_columns()["pre"]
    return -(pre[1] + pre[2])


def numbers() -> dict[str, str]:
    """Every number the answers print, formatted as printed."""
    pre = example_columns()["pre"]
    step = revival_step()
    return {
        "norm": "3",
        "z": r"\left(-\tfrac{1}{3}, \tfrac{2}{3}, \tfrac{2}{3}\right)",
        "post_norm": r"2\sqrt{2}",
        "pre_entry": rf"\frac{{{pre[1].numerator}}}{{{pre[1].denominator}}}",
        "pre_entry_decimal": f"{float(pre[1]):.4f}",
        "step": rf"-\frac{{{-step.numerator}}}{{{step.denominator}}}",
        "step_decimal": f"{float(step):.4f}",
    }
