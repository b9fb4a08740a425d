"""written/vae_report.md (ift6135-a3 1.6, 1.7): the importance-sampling bound on a model with a known
likelihood, the log-mean-exp, the float32 floor; printed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_vae_report as calc

FILE = "written/vae_report.md"


def test_elbo_closed_form_matches_sampling():
    rng = np.random.default_rng(0)
    m, v = calc.encoder()
    z = m + np.sqrt(v) * rng.standard_normal(400_000)
    sampled = np.mean(calc.log_normal(calc.X, z, calc.S2) + calc.log_normal(z, 0, 1) - calc.log_normal(z, m, v))
    assert sampled == pytest.approx(calc.elbo(), abs=0.01)


def test_importance_estimates_climb_from_the_elbo_towards_log_p():
    table = calc.importance_table()
    values = [calc.elbo(), *(table[k] for k in calc.K_VALUES), calc.exact_log_likelihood()]
    assert values == sorted(values)


def test_importance_estimate_is_exact_with_the_true_posterior(monkeypatch):
    monkeypatch.setattr(calc, "Q_MEAN_SHIFT", 0.0)
    monkeypatch.setattr(calc, "Q_VAR_SCALE", 1.0)
    estimates = calc.importance_estimates(3, 10, np.random.default_rng(1))
    np.testing.assert_allclose(estimates, calc.exact_log_likelihood(), rtol=1e-12)  # every weight is p(x)


def test_log_mean_exp_is_stable_where_float32_underflows():
    y = np.array([[-300.0, -301.0, -302.5]], dtype=np.float32)
    with np.errstate(divide="ignore"):
        naive = np.log(np.mean(np.exp(y), axis=1))
    assert np.isneginf(naive[0])
    exact = -300.0 + np.log(np.mean(np.exp(np.array([0.0, -1.0, -2.5]))))
    assert calc.log_mean_exp(y)[0] == pytest.approx(exact, rel=1e-6)
    floor = calc.float32_exp_floor()
    assert np.exp(np.float32(floor + 0.5)) > 0 and np.exp(np.float32(floor - 0.5)) == 0


def test_answers_print_the_computed_numbers():
    numbers = calc.answer_numbers()
    for qid in ("vaereport-elbo-validation", "vaereport-importance-sampling"):
        check_numbers(answer(FILE, qid), numbers[qid], qid)
