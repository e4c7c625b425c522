"""Exact McNemar on published tables, Holm against the textbook example, the paired comparison, rank intervals."""

import numpy as np
import pytest

from fk_bench.errors import FkBenchError
from fk_bench.stats.intervals import FactResampler
from fk_bench.stats.ranks import rank_intervals, ranks_of, tied_with
from fk_bench.stats.significance import compare_paired, holm, mcnemar_exact


def test_mcnemar_exact_on_published_tables() -> None:
    # Fagerland, Lydersen and Laake (2013), BMC Med Res Methodol 13:91: b = 1, c = 7, exact conditional p = 0.0703.
    assert mcnemar_exact(1, 7) == pytest.approx(0.0703, abs=1e-4)
    assert mcnemar_exact(7, 1) == mcnemar_exact(1, 7)
    # Agresti (2002), Table 10.1, presidential approval: 150 vs 86 discordant, far below 0.001.
    assert mcnemar_exact(150, 86) < 1e-4
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0
    with pytest.raises(FkBenchError, match="McNemar"):
        mcnemar_exact(-1, 3)


def test_holm_matches_the_textbook_example() -> None:
    # p = (0.01, 0.04, 0.03, 0.005): sorted x (4, 3, 2, 1) = 0.02, 0.03, 0.06, 0.04, then made monotone.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.5, np.nan, 0.01])
    assert np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02) and adjusted[0] == pytest.approx(0.5)
    assert holm([0.9, 0.8]).max() <= 1.0


def test_compare_paired_counts_discordant_items_and_brackets_the_difference() -> None:
    a = np.array([1, 1, 1, 1, 0, 1, 1, 0.5] * 20, dtype=float)
    b = np.array([1, 0, 0, 1, 0, 1, 0, 0.5] * 20, dtype=float)
    keys = [f"k{i}" for i in range(a.size)]
    result = compare_paired(a, b, FactResampler.draw(keys, 300, seed=3).weights(keys))
    assert (result.a_only, result.b_only, result.n) == (60, 0, 160)
    assert result.delta == pytest.approx(a.mean() - b.mean())
    assert result.ci_low <= result.delta <= result.ci_high and result.ci_low > 0
    assert result.p_value == pytest.approx(mcnemar_exact(60, 0))
    assert set(result.to_dict()) == {"a", "b", "delta", "ci_low", "ci_high", "n", "a_only", "b_only", "p_value"}
    with pytest.raises(FkBenchError, match="same non-empty items"):
        compare_paired(a, b[:-1], np.ones((1, a.size)))


def test_ranks_and_rank_intervals() -> None:
    assert ranks_of(np.array([0.7, 0.9, 0.7, np.nan])).tolist() == [2, 1, 2, 4]
    assert ranks_of(np.array([0.1, 0.3]), higher_is_better=False).tolist() == [1, 2]
    rng = np.random.default_rng(0)
    # Row 0 is clearly best; rows 1 and 2 are indistinguishable.
    replicates = np.column_stack([0.9 + rng.normal(0, 0.01, 500), 0.6 + rng.normal(0, 0.02, 500), 0.6 + rng.normal(0, 0.02, 500)])
    low, high = rank_intervals(replicates)
    assert (low[0], high[0]) == (1, 1)
    assert (low[1], high[1]) == (2, 3) and (low[2], high[2]) == (2, 3)
    assert tied_with(low, high) == [[], [2], [1]]
