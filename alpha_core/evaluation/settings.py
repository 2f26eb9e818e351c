"""The evaluation stage's settings: what the statistics of a run must account for."""

from __future__ import annotations

from dataclasses import dataclass

from alpha_core.base.settings import setting


@dataclass(frozen=True)
class EvaluationSettings:
    """The number of trials behind a run, for its deflated Sharpe ratio."""

    n_trials: int = setting(
        1,
        label="Runs compared (deflated Sharpe)",
        lo=1,
        section="Books",
        help="number of runs compared, for the deflated Sharpe ratio (a run with --select "
        "valid adds its other candidates)",
    )
