"""Compare: the Sharpe difference test against an independent delta-method computation and
its size under the null, aligned equity, notes and tags stored with the run, the page."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from alpha_core.config import ModelParams, RunConfig  # noqa: E402
from alpha_core.data.panel import load_panel  # noqa: E402
from alpha_core.evaluation import views  # noqa: E402
from alpha_core.runs import registry  # noqa: E402
from alpha_core.runs.service import RunService  # noqa: E402
from alpha_core.stats import returns as stats  # noqa: E402


def delta_method(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(difference, se) of the per-period Sharpe ratios by the delta method written out:
    gradient of g = m1/sqrt(s11) - m2/sqrt(s22) against the asymptotic covariance of the
    sample moments (m1, m2, s11, s22) of a bivariate normal."""
    t = x.size
    m1, m2 = x.mean(), y.mean()
    s = np.cov(np.vstack([x, y]), ddof=0)
    s11, s22, s12 = s[0, 0], s[1, 1], s[0, 1]
    cov = np.zeros((4, 4))
    cov[:2, :2] = s
    pairs = [(0, 0), (1, 1)]  # the variances s11, s22
    for i, (a, b) in enumerate(pairs):
        for j, (c, d) in enumerate(pairs):
            cov[2 + i, 2 + j] = s[a, c] * s[b, d] + s[a, d] * s[b, c]
    grad = np.array([1 / np.sqrt(s11), -1 / np.sqrt(s22),
                     -0.5 * m1 * s11**-1.5, 0.5 * m2 * s22**-1.5])  # fmt: skip
    assert s12 == pytest.approx(s[1, 0])
    return m1 / np.sqrt(s11) - m2 / np.sqrt(s22), float(np.sqrt(grad @ cov @ grad / t))


def test_sharpe_difference_equals_the_delta_method():
    rng = np.random.default_rng(3)
    common = rng.normal(0, 0.01, 750)
    x = 0.0008 + common + rng.normal(0, 0.006, 750)
    y = 0.0002 + 0.8 * common + rng.normal(0, 0.008, 750)
    got = stats.sharpe_difference_test(x, y)
    diff, se = delta_method(x, y)
    assert got["difference"] == pytest.approx(diff, rel=1e-10)
    assert got["std_error"] == pytest.approx(se, rel=1e-10)
    assert got["p_value"] == pytest.approx(2 * sps.norm.sf(abs(diff / se)), rel=1e-10)
    assert got["rho"] == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_sharpe_difference_test_has_its_size_under_the_null():
    """Two correlated series with the same Sharpe: rejected at 5% about 5% of the time."""
    rng = np.random.default_rng(11)
    rejections = 0
    trials = 600
    for _ in range(trials):
        z = rng.multivariate_normal([0.0005, 0.0005], [[1e-4, 6e-5], [6e-5, 1e-4]], 500)
        rejections += stats.sharpe_difference_test(z[:, 0], z[:, 1])["p_value"] < 0.05
    assert 0.03 < rejections / trials < 0.075


def test_sharpe_difference_of_runs_uses_common_days_only():
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(60)]
    rng = np.random.default_rng(5)
    a = pl.DataFrame({"date": days, "long_short": rng.normal(0.001, 0.01, 60)})
    b = pl.DataFrame({"date": days[20:] + [date(2025, 1, 1)], "long_short":
                      rng.normal(0.0, 0.01, 41)})  # fmt: skip
    got = views.sharpe_difference(a, b, periods=252)
    want = stats.sharpe_difference_test(a["long_short"][20:].to_numpy(),
                                        b["long_short"][:40].to_numpy())  # fmt: skip
    assert got["n"] == 40
    assert got["z"] == pytest.approx(want["z"])
    assert got["difference_annual"] == pytest.approx(want["difference"] * np.sqrt(252))


def test_aligned_equity_starts_at_the_first_common_day():
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(10)]
    a = pl.DataFrame({"date": days, "long_short": [0.01] * 10, "long_short_net": [0.005] * 10})
    b = pl.DataFrame({"date": days[4:], "long_short": [0.02] * 6})
    frame = views.aligned_equity({"a": a, "b": b})
    assert frame["date"].min() == days[4]
    first = frame.filter(pl.col("date") == days[4])
    assert dict(zip(first["run"] + "/" + first["kind"], first["equity"], strict=True)) == (
        pytest.approx({"a/gross": 1.01, "a/net": 1.005, "b/gross": 1.02, "b/net": 1.02})
    )
    assert views.aligned_equity({"a": a, "b": b}, only_common=False)["date"].min() == days[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    panel = load_panel("demo")
    service = RunService(root)
    ids = []
    for seed in (1, 2):
        cfg = RunConfig(train_start=date(2024, 1, 2), train_end=date(2024, 10, 1), seed=seed,
                        model=ModelParams(n_estimators=4, num_leaves=8, max_depth=4),
                        name=f"run-{seed}", cost_bps=5)  # fmt: skip
        ids.append(service.train_and_save(cfg, panel, explain=False).run_id)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALPHA_LAB_ARTIFACTS", str(root))
        mp.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
        yield {"root": root, "ids": ids, "service": service}


def test_notes_and_tags_are_stored_with_the_run(runs):
    service, (a, _) = runs["service"], runs["ids"]
    assert service.notes(a) == {"note": "", "tags": []}
    service.set_notes(a, "beats the baseline?", [" Momentum", "momentum", "", "v2"])
    assert service.notes(a) == {"note": "beats the baseline?", "tags": ["momentum", "v2"]}
    assert (runs["root"] / a / registry.NOTES).is_file()
    assert service.load(a).run_id == a  # the manifest is untouched: the run still loads
    assert a in {i.run_id for i in service.scan().runs}
    with pytest.raises(ValueError, match="at most 20 tags"):
        service.set_notes(a, "", [f"t{i}" for i in range(21)])
    with pytest.raises(FileNotFoundError):
        service.set_notes("20990101-000000-000000-gone", "", [])
    (runs["root"] / a / registry.NOTES).write_text("{broken")
    assert service.notes(a) == {"note": "", "tags": []}
    service.set_notes(a, "", [])


def test_compare_page_sharpe_test_tags_and_equity(runs):
    a, b = runs["ids"]
    service = runs["service"]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/6_Compare.py").run()
    at.multiselect(key="cmp_runs").set_value([a, b]).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = next(d.value for d in at.dataframe if "figure" in d.value.columns)
    ra, rb = service.load(a), service.load(b)
    first, second = (ra, rb) if at.selectbox(key="sr_a").value == a else (rb, ra)
    want = views.sharpe_difference(first.daily, second.daily, "long_short_net", 252)
    values = dict(zip(shown["figure"], shown["value"], strict=True))
    assert values["p-value (two-sided)"] == pytest.approx(want["p_value"])
    assert values["Sharpe A (annualised)"] == pytest.approx(want["sharpe_a_annual"])
    sortable = next(d.value for d in at.dataframe if "sharpe_net" in d.value.columns)
    by_name = dict(zip(sortable["run"], sortable["sharpe_net"], strict=True))
    assert by_name == pytest.approx({r.config.name: r.metrics["sharpe_net"] for r in (ra, rb)})
    # tag a run from the page; the tag filter then offers it
    at.selectbox(key="manage_run").set_value(b).run()
    at.text_input(key=f"tags_{b}").set_value("keeper, v1").run()
    at.button(key="notes_btn").click().run()
    assert not at.exception
    assert service.notes(b)["tags"] == ["keeper", "v1"]
    at.multiselect(key="cmp_tags").set_value(["keeper"]).run()
    assert at.multiselect(key="cmp_runs").options == [
        o for o in at.multiselect(key="cmp_runs").options if "keeper" in o
    ]
    assert len(at.multiselect(key="cmp_runs").options) == 1
