"""Markov and Shapley attribution on a path set worked out by hand.

Paths: (A) converts once and fails once; (A, B) converts once; (B) fails twice.
Markov chain: start→A 3/5, start→B 2/5; A→conv 1/3, A→B 1/3, A→null 1/3; B→conv 1/3,
B→null 2/3. P(conv) = 3/5·(1/3 + 1/3·1/3) + 2/5·1/3 = 2/5 (= 2 conversions / 5 paths).
Without A: 2/5·1/3 = 2/15, effect 1 - (2/15)/(2/5) = 2/3. Without B: 3/5·1/3 = 1/5, effect
1/2. The standard totals: 2 conversions × (2/3) / (7/6) = 8/7 for A, × (1/2) / (7/6) = 6/7 for
B. The conversion on {A} is A's alone, so the one on {A, B} must split 1/7 : 6/7.
Shapley with v({A}) = 1/2, v({B}) = 0, v({A, B}) = 1: φA = ½·½ + ½·(1 - 0) = 3/4,
φB = ½·0 + ½·(1 - ½) = 1/4.
"""

from itertools import combinations

import pytest

from ml.attribution import (
    markov_fit,
    markov_removal_effects,
    markov_shares,
    shapley_shares,
    shapley_values,
)

PATHS = {("A",): (1, 1), ("A", "B"): (1, 0), ("B",): (0, 2)}


def test_markov_removal_effects_match_the_hand_solution():
    effects = markov_removal_effects(PATHS)
    assert effects == pytest.approx({"A": 2 / 3, "B": 1 / 2})


def test_markov_totals_are_the_standard_removal_effect_split():
    fit = markov_fit(PATHS)
    assert fit.totals == pytest.approx({"A": 8 / 7, "B": 6 / 7})
    assert fit.gap == pytest.approx(0.0, abs=1e-9)


def test_markov_shares_per_converting_channel_set_add_up_to_the_totals():
    shares = markov_shares(PATHS)
    assert shares[frozenset({"A", "B"})] == pytest.approx({"A": 1 / 7, "B": 6 / 7})
    assert shares[frozenset({"A"})] == pytest.approx({"A": 1.0})
    assert frozenset({"B"}) not in shares  # never converts: nothing to share


def test_markov_raking_spreads_totals_over_many_sets():
    """Three channels and four converting sets: after raking, every set's shares sum to 1
    and each channel's credit over the sets is its standard total."""
    paths = {
        ("A", "B"): (30, 70), ("B", "C"): (20, 40), ("A", "C", "B"): (25, 25),
        ("C",): (10, 90), ("A",): (5, 95), ("B",): (0, 50),
    }  # fmt: skip
    fit = markov_fit(paths)
    credited = {c: 0.0 for c in "ABC"}
    for channel_set, split in fit.shares.items():
        assert sum(split.values()) == pytest.approx(1.0)
        conversions = sum(
            conv for path, (conv, _) in paths.items() if frozenset(path) == channel_set
        )
        for channel, share in split.items():
            credited[channel] += conversions * share
    assert credited == pytest.approx(fit.totals, rel=1e-6)
    assert sum(fit.totals.values()) == pytest.approx(90)


def test_markov_reports_the_gap_when_no_split_can_reach_the_totals():
    """A and C are both needed for 60 conversions (removal effects 0.6 each), B alone makes
    40 (0.4): B's standard total is 100 × 0.4 / 1.6 = 25, below the 40 conversions that
    have no other channel to go to. The fit says how far off the nearest split is."""
    paths = {("B",): (40, 0), ("A", "C"): (60, 0)}
    fit = markov_fit(paths)
    assert fit.totals["B"] == pytest.approx(25)
    assert fit.gap == pytest.approx(2 * 15 / 100, rel=1e-3)


def test_shapley_shares_match_the_hand_solution():
    shares = shapley_shares(PATHS)
    assert shares[frozenset({"A", "B"})] == pytest.approx({"A": 3 / 4, "B": 1 / 4})


def test_shapley_values_are_efficient_and_symmetric_for_three_players():
    value = {frozenset(c): float(len(c) ** 2) for n in range(4) for c in combinations("XYZ", n)}
    phi = shapley_values("XYZ", value)
    assert sum(phi.values()) == pytest.approx(value[frozenset("XYZ")])  # efficiency
    assert phi["X"] == pytest.approx(phi["Y"]) == pytest.approx(3.0)  # symmetry


def test_shapley_refuses_more_than_twelve_channels_with_a_reason():
    with pytest.raises(ValueError, match="13 channels"):
        shapley_values([f"c{i}" for i in range(13)], {})


def test_repeated_channels_are_self_loops_of_the_chain():
    # A→A 1/2, A→B 1/2; B→conv 1/3, B→B 1/3, B→null 1/3: P(B) = 1/2 = P(A) = P(conv).
    # Without A: start→B only, 1/2·1/2 = 1/4, effect 1/2. Without B nothing converts: 1.
    # (First order: B's conversions are pooled, so A cannot take all the credit.)
    paths = {("A", "A", "B"): (2, 0), ("B", "B"): (0, 2)}
    assert markov_removal_effects(paths) == pytest.approx({"A": 1 / 2, "B": 1.0})
