"""The significance test and its interval: exact Mann-Whitney and Moses' interval agree, and
the false-positive rate on samples from one distribution stays at the nominal 5 %."""

from __future__ import annotations

import math
import random

from runner.compare.stats import MIN_PERIODS, shift


class TestShift:
    def test_complete_separation_of_4_and_4_is_the_smallest_p(self) -> None:
        """4 vs 4 periods, every current one slower: p = 2/70, and the interval excludes 0."""
        found = shift([10, 11, 10.5, 10.2], [15, 16, 15.5, 15.2], log=True)
        assert found is not None
        assert math.isclose(found.p_value, 2 / 70)
        assert found.significant and found.low is not None and found.low > 0
        assert found.low <= found.estimate <= (found.high or 0)

    def test_fewer_than_min_periods_cannot_be_judged(self) -> None:
        """Three periods on one side: no answer (the caller says 'not comparable'), never 'unchanged'."""
        assert shift([1, 2, 3], [4, 5, 6, 7], log=True) is None
        assert MIN_PERIODS == 4

    def test_the_interval_excludes_zero_exactly_when_p_is_below_5_percent(self) -> None:
        """Test and interval are one decision: over many random pairs they never disagree."""
        rng = random.Random(7)
        for _ in range(300):
            m, n = rng.randint(4, 12), rng.randint(4, 12)
            a = [rng.lognormvariate(0, 0.2) for _ in range(m)]
            b = [rng.lognormvariate(rng.choice((0, 0.2)), 0.2) for _ in range(n)]
            found = shift(a, b, log=True)
            assert found is not None
            assert found.significant == (found.p_value < 0.05), found

    def test_identical_zero_error_rates_are_no_shift(self) -> None:
        """Error rates of 0 everywhere: a shift of exactly 0 points, not significant."""
        found = shift([0.0] * 5, [0.0] * 5, log=False)
        assert found is not None and found.estimate == 0 and not found.significant

    def test_false_positive_rate_on_a_a_samples_is_at_most_nominal(self) -> None:
        """2,000 pairs of 8 vs 8 periods from one distribution: 'significant' in at most ~5 %."""
        rng = random.Random(1)
        hits = 0
        for _ in range(2000):
            a = [rng.lognormvariate(3, 0.1) for _ in range(8)]
            b = [rng.lognormvariate(3, 0.1) for _ in range(8)]
            found = shift(a, b, log=True)
            assert found is not None
            hits += found.significant
        assert hits / 2000 <= 0.06
