"""`experiments.distributions` against scipy, over grids from the centre to the deep tails.

One assertion per function over its whole grid: the worst relative error must be at most
1e-12 wherever scipy's value is at least 1e-300. Where scipy is itself wrong, ours is checked
otherwise: scipy 1.17's t sf is 0 beyond x = 1.3e154 (x^2 overflows), where df = 1 still has
2e-155 (the closed forms of df 1 and 2 check ours); its t quantile is -inf, or half the
root, for q <= 1e-100 and df <= 10 (the tail's power law checks ours), and off by 1e-5 at
q = 1/2 - 1e-12 for df = 1 (its incomplete beta checks ours).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps
from scipy.special import betainc, erf, gammaln

from warehouse_kit.analytics.experiments import distributions as dist

RTOL = 1e-12
DF = np.array([0.5, 1, 2, 3, 5, 10, 30, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e9, np.inf])
K = np.array([1, 2, 3, 5, 10, 50, 100])
_HALF_X = np.concatenate(
    [np.geomspace(1e-300, 1e-3, 12), np.linspace(0.01, 10, 200), np.geomspace(10, 1e300, 120)]
)
X = np.concatenate([[-np.inf], -_HALF_X[::-1], [0.0], _HALF_X, [np.inf]])
Q = np.concatenate(
    [
        [0.0],
        np.geomspace(1e-300, 1e-3, 60),
        np.linspace(0.001, 0.999, 199),
        [0.25, 0.5, 0.75],
        1 - np.geomspace(1e-3, 1e-16, 27),
        [1.0],
    ]
)
NEAR_HALF = 0.5 + np.array([-1e-9, -1e-12, -1e-15, 1e-15, 1e-12, 1e-9])


def relative_error(got, expected):
    """|got - expected| / |expected|; 0 where equal (infinities too) or both nan."""
    got, expected = np.broadcast_arrays(np.asarray(got, float), np.asarray(expected, float))
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.abs(got - expected) / np.abs(expected)
    return np.where(same, 0.0, np.where(np.isnan(error), np.inf, error))


def assert_close(got, expected, *grids, where=True):
    """The worst relative error (where `where`) is at most RTOL; the message says where."""
    error = np.where(where, relative_error(got, expected), 0.0)
    at = np.unravel_index(np.argmax(error), error.shape)
    got, expected, *grids = (np.broadcast_to(a, error.shape)[at] for a in (got, expected, *grids))
    arguments = [float(g) for g in grids]
    assert error[at] <= RTOL, (
        f"relative error {error[at]:.3g} at {arguments}: {got!r}, not {expected!r}"
    )


@pytest.mark.parametrize("function", ["sf", "cdf", "pdf", "ppf"])
def test_normal_matches_scipy(function):
    grid = Q if function == "ppf" else X
    with np.errstate(over="ignore"):  # scipy's pdf squares 1e300
        expected = getattr(sps.norm, function)(grid)
    ours = getattr(dist, f"norm_{function}")(grid)
    assert_close(ours, expected, grid, where=~(np.abs(expected) < 1e-300))


def test_t_sf_matches_scipy_for_every_df_to_the_deep_tails():
    x, df = np.meshgrid(X, DF, indexing="ij")
    expected = sps.t.sf(x, df)
    assert_close(dist.t_sf(x, df), expected, x, df, where=expected >= 1e-300)


def test_t_sf_matches_the_closed_forms_for_1_and_2_df_where_scipy_underflows():
    expected = np.arctan2(1, X) / np.pi
    assert_close(dist.t_sf(X, 1), expected, X, where=expected >= 1e-300)
    with np.errstate(over="ignore"):
        s = np.sqrt(2 + X * X)
        upper = 1 / (s * (s + np.abs(X)))  # 1/2 - x / (2 s) without the cancellation
    expected = np.where(X >= 0, upper, 1 - upper)
    assert_close(dist.t_sf(X, 2), expected, X, where=expected >= 1e-300)


def tail_quantile(q, df):
    """The t quantile from the tail's power law P(T < -x) ~ K df^((df - 1) / 2) x^-df, K the
    density at 0 (relative error about df^2 / x^2); inf beyond the floats."""
    with np.errstate(all="ignore"):  # q of 0 or 1, df of inf: cells this is not used for
        log_k = gammaln((df + 1) / 2) - gammaln(df / 2) - np.log(df * np.pi) / 2
        x = np.exp((log_k + (df - 1) / 2 * np.log(df) - np.log(np.minimum(q, 1 - q))) / df)
    return np.where(q < 0.5, -x, x)


def test_t_ppf_matches_scipy_or_the_tails_power_law_where_scipy_is_wrong():
    q, df = np.meshgrid(Q, DF, indexing="ij")
    ours, theirs = dist.t_ppf(q, df), sps.t.ppf(q, df)
    # scipy's quantile where its cdf takes it back to q, to RTOL times the condition number
    # |d log P / d log x| (it picks out -inf, or half the quantile, deep in heavy tails)
    with np.errstate(all="ignore"):
        condition = np.abs(theirs) * sps.t.pdf(theirs, df) / np.minimum(q, 1 - q)
    trusted = relative_error(sps.t.cdf(theirs, df), q) <= RTOL * np.fmax(condition, 1)
    assert_close(ours, theirs, q, df, where=trusted)
    assert_close(ours, tail_quantile(q, df), q, df, where=~trusted)
    # at the centre (where scipy's is off by 1e-5 for df = 1): P(0 < T < |x|) must be
    # |q - 1/2|, by scipy's incomplete beta I_v(1/2, df/2) / 2, v = x^2 / (df + x^2)
    q, df = np.meshgrid(NEAR_HALF, DF, indexing="ij")
    x = np.abs(dist.t_ppf(q, df))
    with np.errstate(invalid="ignore"):
        central = np.where(
            np.isinf(df), erf(x / np.sqrt(2)), betainc(0.5, df / 2, x * x / (df + x * x))
        )
    assert_close(central / 2, np.abs(q - 0.5), q, df)


def test_chi2_sf_matches_scipy_to_the_deep_tail():
    grid = np.concatenate(
        [[0.0], np.geomspace(1e-300, 1e-2, 30), np.linspace(0.01, 200, 400), [1500.0, np.inf]]
    )
    x, k = np.meshgrid(grid, K, indexing="ij")
    expected = sps.chi2.sf(x, k)
    assert_close(dist.chi2_sf(x, k), expected, x, k, where=expected >= 1e-300)


def test_edges_and_shapes_are_scipys():
    nan, inf = np.nan, np.inf
    x = np.array([nan, -inf, -1.0, 0.0, 2.0, inf])[:, None]
    df = np.array([nan, -1.0, 0.0, 0.5, 1.0, inf])
    assert_close(dist.t_sf(x, df), sps.t.sf(x, df))
    assert_close(dist.chi2_sf(x, df), sps.chi2.sf(x, df))
    q = np.array([nan, -0.1, 0.0, 0.5, 1.0, 1.1])[:, None]
    assert_close(dist.t_ppf(q, df), sps.t.ppf(q, df))
    assert_close(dist.norm_ppf(q), sps.norm.ppf(q))
    assert_close(dist.norm_sf(x), sps.norm.sf(x))
    # a scalar gives a numpy float, as scipy's
    assert isinstance(dist.t_sf(2.0, 10), np.float64)
    assert dist.t_ppf([[0.975], [0.025]], [10, 20, 30]).shape == (2, 3)
    # the quantile is about -1e600: beyond the floats (scipy 1.17 says -4.7e153)
    assert dist.t_ppf(1e-300, 0.5) == -inf


@pytest.mark.parametrize(
    ("f", "a", "b"),
    [
        (lambda x: x**3 - 2 * x - 5, 2.0, 3.0),
        (lambda x: np.cos(x) - x, 0.0, 1.0),
        (lambda x: dist.norm_cdf(x) - 0.8, -10.0, 10.0),
        (lambda x: np.expm1(x) - 1e-12, -1.0, 1.0),
    ],
)
def test_brentq_finds_scipys_root(f, a, b):
    expected = optimize.brentq(f, a, b, xtol=1e-15, rtol=1e-14)
    assert dist.brentq(f, a, b, xtol=1e-15, rtol=1e-14) == pytest.approx(expected, rel=1e-13)


def test_brentq_needs_a_sign_change():
    with pytest.raises(ValueError, match="differ in sign"):
        dist.brentq(lambda x: x * x + 1, -1.0, 1.0)


def test_the_experiments_do_not_import_scipy():
    code = "import sys, warehouse_kit.analytics.experiments; print(sorted(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "warehouse_kit.analytics.experiments.stats" in out
    assert "'scipy" not in out
