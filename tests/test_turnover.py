"""Turnover control (alpha_core.portfolio.turnover through build_books) and the break-even cost."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy.optimize import brentq

from alpha_core.cli.main import build_parser, config_from_args
from alpha_core.config import ConfigError, RunConfig
from alpha_core.evaluation.metrics import break_even_bps
from alpha_core.portfolio.backtest import turnover
from alpha_core.portfolio.books import build_books
from alpha_core.portfolio.turnover import smooth_predictions
from alpha_core.research.pipeline import rebook
from alpha_core.stats import returns as stats
from alpha_ui.text import shown  # labels as a reader sees them


def random_preds(n_assets: int = 20, n_days: int = 30, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    dates = [dt.date(2023, 1, 2) + dt.timedelta(days=i) for i in range(n_days)]
    n = n_assets * n_days
    pred = rng.normal(size=n)
    return pl.DataFrame(
        {
            "date": [d for d in dates for _ in range(n_assets)],
            "asset": [f"A{i:02d}" for i in range(n_assets)] * n_days,
            "prediction": pred,
            "label": 0.01 * pred + rng.normal(0, 0.02, n),
        }
    )


def weights(books: pl.DataFrame) -> dict[tuple[dt.date, str], float]:
    return {(d, a): w for d, a, w in books.select("date", "asset", "weight").iter_rows()}


# ------------------------------------------------------------------------------ smoothing
def test_smoothing_is_the_mean_of_the_assets_last_n_predictions():
    preds = random_preds().sample(fraction=1.0, shuffle=True, seed=1)  # any row order
    out = smooth_predictions(preds, 4)
    assert out.select("date", "asset").equals(preds.select("date", "asset"))  # order kept
    for asset in ("A00", "A07"):
        own = preds.filter(pl.col("asset") == asset).sort("date")
        raw = own["prediction"].to_numpy()
        expected = [raw[max(0, i - 3) : i + 1].mean() for i in range(raw.size)]
        got = out.filter(pl.col("asset") == asset).sort("date")["prediction"].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert smooth_predictions(preds, 1) is preds


def test_smoothing_and_books_are_known_at_t_truncation():
    """Cutting every row after t changes neither the smoothed prediction nor the book at t."""
    preds = random_preds(n_days=25)
    cfg = RunConfig(smooth_days=5, hold_buffer=0.1, max_turnover=0.8)
    full_smooth = smooth_predictions(preds, 5)
    full_books, _ = build_books(preds, cfg)
    for cut in (preds["date"].unique().sort()[i] for i in (3, 11, 24)):
        part = preds.filter(pl.col("date") <= cut)
        at = pl.col("date") == cut
        assert smooth_predictions(part, 5).filter(at).equals(full_smooth.filter(at))
        part_books, _ = build_books(part, cfg)
        # the same book (bits aside: the cap sums the trade over another set of names)
        assert_frame_equal(
            part_books.filter(at).sort("asset"), full_books.filter(at).sort("asset"), rel_tol=1e-12
        )


# ------------------------------------------------------------------------------ hold buffer
def test_hold_buffer_keeps_a_held_name_until_it_leaves_the_wider_band():
    d1, d2, d3 = (dt.date(2024, 1, d) for d in (2, 3, 4))
    assets = [f"A{i}" for i in range(10)]
    day1 = [float(i) for i in range(10)]  # A9, A8 long (top 20%); A0, A1 short
    day2 = [1.0, 0.0, 2, 3, 4, 5, 6, 9, 7, 8]  # A8 falls to 3rd (top 30%), A1 to 1st
    day3 = [1.0, 0.0, 2, 3, 4, 5, 9, 8, 6, 7]  # A8 falls to 4th (out of the band)
    preds = pl.DataFrame(
        {
            "date": [d for d in (d1, d2, d3) for _ in assets],
            "asset": assets * 3,
            "prediction": day1 + day2 + day3,
            "label": [0.0] * 30,
        }
    )
    base = RunConfig(long_pct=0.2, short_pct=0.2)
    plain, _ = build_books(preds, base)
    held, _ = build_books(preds, base.replace(hold_buffer=0.1))

    def members(books, day, side):
        rows = books.filter((pl.col("date") == day) & (pl.col("side") == side))
        return set(rows["asset"])

    assert members(plain, d2, "long") == {"A7", "A9"}
    assert members(held, d2, "long") == {"A7", "A9", "A8"}  # A8 within the top 30%
    assert members(held, d2, "short") == {"A0", "A1"}  # A1 ranks 1st: still in the 20%
    assert members(held, d3, "long") == {"A6", "A7", "A9"}  # A9 (3rd) held; A8 (4th) leaves
    long2 = held.filter((pl.col("date") == d2) & (pl.col("side") == "long"))["weight"]
    assert long2.to_list() == pytest.approx([1 / 3] * 3)  # equal weights over the members


def test_hold_buffer_lowers_turnover_and_every_member_obeys_the_rule():
    preds = random_preds(n_assets=40, n_days=40)
    cfg = RunConfig(long_pct=0.2, short_pct=0.2)
    plain, _ = build_books(preds, cfg)
    held, _ = build_books(preds, cfg.replace(hold_buffer=0.15))
    dates = preds["date"]
    assert turnover(held, dates)["turnover"].mean() < turnover(plain, dates)["turnover"].mean()
    ranked = preds.with_columns(
        ((pl.col("prediction").rank("ordinal").over("date") - 0.5) / 40).alias("p")
    )
    pos = {(d, a): p for d, a, p in ranked.select("date", "asset", "p").iter_rows()}
    prev: set[str] = set()
    for day in dates.unique().sort():
        longs = set(held.filter((pl.col("date") == day) & (pl.col("side") == "long"))["asset"])
        for a in longs:
            assert pos[day, a] >= 0.8 - 1e-9 or (a in prev and pos[day, a] >= 0.65 - 1e-9)
        entering = {a for (d, a), p in pos.items() if d == day and p >= 0.8 - 1e-9}
        assert entering <= longs
        prev = longs


# -------------------------------------------------------------------------- rebalance interval
def test_rebalance_interval_holds_the_book_and_earns_each_days_label():
    preds = random_preds(n_days=12)
    every, _ = build_books(preds, RunConfig())
    held, _ = build_books(preds, RunConfig(rebalance_every=5))
    dates = preds["date"].unique().sort().to_list()
    w_every, w_held = weights(every), weights(held)
    for i, day in enumerate(dates):
        decided = dates[i - i % 5]
        assert {a: w for (d, a), w in w_held.items() if d == day} == {
            a: w for (d, a), w in w_every.items() if d == decided
        }
    trades = turnover(held, preds["date"])
    assert [t > 0 for t in trades["turnover"]] == [i % 5 == 0 for i in range(12)]
    labels = {(d, a): y for d, a, y in preds.select("date", "asset", "label").iter_rows()}
    for d, a, y in held.select("date", "asset", "label").iter_rows():
        assert y == labels[d, a]


# -------------------------------------------------------------------------------- turnover cap
def test_turnover_cap_bounds_each_days_trade_and_keeps_the_limits():
    preds = random_preds(n_assets=30, n_days=20)
    cfg = RunConfig(max_weight=0.25)
    target, _ = build_books(preds, cfg)
    capped, _ = build_books(preds, cfg.replace(max_turnover=0.5))
    trades = turnover(capped, preds["date"])["turnover"].to_numpy()
    assert trades.max() <= 0.5 + 1e-9
    assert trades[0] == pytest.approx(0.5)  # the first book is bought from cash, capped
    assert capped["weight"].abs().max() <= 0.25 + 1e-12
    net = capped.group_by("date").agg(pl.col("weight").sum())["weight"]
    assert net.abs().max() < 1e-12  # dollar-neutral like its targets
    # the first capped book is the target scaled by 0.5 / 2 (a quarter of the way from cash)
    first = preds["date"].min()
    t0 = {a: w for (d, a), w in weights(target).items() if d == first}
    c0 = {a: w for (d, a), w in weights(capped).items() if d == first}
    assert c0 == pytest.approx({a: w * 0.25 for a, w in t0.items()})
    # a cap that never binds leaves the target books as they are
    loose, _ = build_books(preds, cfg.replace(max_turnover=20.0))
    assert weights(loose) == pytest.approx(weights(target))


def test_turnover_cap_walks_towards_the_target_by_hand():
    d1, d2 = dt.date(2024, 1, 2), dt.date(2024, 1, 3)
    preds = pl.DataFrame(
        {
            "date": [d1] * 4 + [d2] * 4,
            "asset": ["A", "B", "C", "D"] * 2,
            "prediction": [4.0, 3, 2, 1] + [3.0, 4, 1, 2],  # d2's target: B long, C short
            "label": [0.0] * 8,
        }
    )
    cfg = RunConfig(long_pct=0.25, short_pct=0.25, max_turnover=1.0)
    books, _ = build_books(preds, cfg)
    # d1: target A +1, D -1 is a trade of 2 from cash -> half way
    assert weights(books.filter(pl.col("date") == d1)) == {(d1, "A"): 0.5, (d1, "D"): -0.5}
    # d2: the trade to B +1, C -1 from (A +0.5, D -0.5) is 3, scaled by 1/3
    got = books.filter(pl.col("date") == d2)
    assert weights(got) == pytest.approx(
        {(d2, "A"): 1 / 3, (d2, "B"): 1 / 3, (d2, "C"): -1 / 3, (d2, "D"): -1 / 3}
    )
    sides = dict(zip(got["asset"], got["side"], strict=True))
    assert sides == {"A": "long", "B": "long", "C": "short", "D": "short"}
    fading = got.filter(pl.col("asset") == "A").row(0, named=True)
    assert fading["prediction"] == 3.0 and fading["rank"] == pytest.approx(0.625)
    assert turnover(books, preds["date"])["turnover"].to_list() == pytest.approx([1.0, 1.0])


# -------------------------------------------------------------------------------- break-even
def test_break_even_cost_is_the_root_of_the_net_sharpe():
    preds = random_preds(n_assets=30, n_days=60, seed=5)
    cfg = RunConfig(long_pct=0.3, short_pct=0.3, borrow_bps=30.0, smooth_days=3)
    _, daily, metrics = rebook(preds, cfg, {})
    closed = metrics["break_even_bps"]
    assert closed > 0

    def net_sharpe(bps: float) -> float:
        net = daily["long_short"] - daily["turnover"] * bps / 1e4 - daily["borrow_cost"]
        return stats.sharpe_ratio(net.to_numpy(), 252)

    root = brentq(net_sharpe, 0.0, 10 * closed + 1000, xtol=1e-10)
    assert closed == pytest.approx(root, rel=1e-8)
    at_root = rebook(preds, cfg.replace(cost_bps=closed), {})[2]
    assert at_root["sharpe_net"] == pytest.approx(0.0, abs=1e-9)
    assert at_root["net_sharpe"] == at_root["sharpe_net"]
    assert at_root["turnover"] == at_root["turnover_mean"]
    assert at_root["cost_drag"] == at_root["cost_annual"]
    assert np.isnan(break_even_bps(np.ones(3), np.zeros(3), np.zeros(3)))


# ------------------------------------------------------------------------------ the settings
def test_turnover_settings_reach_the_cli_and_validation():
    args = build_parser().parse_args(
        ["run", "--rebalance-every", "5", "--hold-buffer", "0.1", "--smooth-days", "3",
         "--max-turnover", "0.4"]
    )  # fmt: skip
    cfg = config_from_args(args, None)
    assert (cfg.rebalance_every, cfg.hold_buffer, cfg.smooth_days, cfg.max_turnover) == (
        5, 0.1, 3, 0.4
    )  # fmt: skip
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError) as err:
        RunConfig(rebalance_every=0).validate()
    assert err.value.field == "rebalance_every"
    with pytest.raises(ConfigError) as err:
        RunConfig(hold_buffer=0.8).validate()
    assert err.value.field == "hold_buffer"


# ------------------------------------------------------------------------------ Books page
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from alpha_core.config import ModelParams
    from alpha_core.data.panel import load_panel
    from alpha_core.research.pipeline import run_experiment
    from alpha_core.runs.registry import save_run

    root = tmp_path_factory.mktemp("runs")
    cfg = RunConfig(
        train_start=dt.date(2021, 1, 4),
        train_end=dt.date(2024, 10, 1),
        model=ModelParams(n_estimators=6, num_leaves=8, max_depth=4),
        cost_bps=5.0,
        hold_buffer=0.05,
        rebalance_every=2,
    )
    result = run_experiment(cfg, load_panel("demo"))
    save_run(result, root, {"data": "demo"})
    return root, result


def books_page(root, run_id):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.switch_page("pages/5_Books.py")
    at.session_state["run_id"] = run_id
    return at


def test_books_page_shows_net_figures_of_the_rebook(tiny_run, monkeypatch):
    from alpha_core.evaluation.report import format_value
    from alpha_ui.text import plain

    root, result = tiny_run
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    at = books_page(root, result.run_id).run()
    assert not at.exception and not at.error
    cards = {shown(m.label): m.value for m in at.metric}
    m = result.metrics
    assert list(cards)[0] == "Net Sharpe"  # net first, gross beside it
    assert cards["Net Sharpe"] == format_value(m["sharpe_net"], "num")
    assert cards["Net annual return"] == format_value(m["cagr_net"], "pct")
    assert cards["Cost drag a year"] == format_value(m["cost_annual"], "pct")
    even = m["break_even_bps"]
    assert cards["Break-even cost"] == (
        "loses before costs" if even <= 0 or m["sharpe"] <= 0 else f"{even:.2f} bps"
    )
    gross = plain(f"gross {format_value(m['sharpe'], 'num')}")
    assert any(c.value.startswith(gross) for c in at.caption)
    assert m["sharpe_net"] < m["sharpe"]  # 5 bps cost something
    assert any("hold buffer 0\\.05" in c.value for c in at.caption)  # escaped Markdown


def test_books_page_without_positions_shows_a_message(tiny_run, monkeypatch):
    from alpha_ui import cache

    root, result = tiny_run
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    real = cache.rebook

    def empty(run_id, **changes):
        done = real(run_id, **changes)
        return dataclasses.replace(done, books=done.books.clear())

    monkeypatch.setattr(cache, "rebook", empty)
    at = books_page(root, result.run_id).run()
    assert not at.exception and not at.error
    assert any("hold no position" in i.value for i in at.info)
    assert not at.dataframe  # no book tables, no date slider


# ------------------------------------------------------------------ choosing on validation
def test_select_valid_chooses_turnover_by_validation_net_sharpe():
    from alpha_core.research import selection

    preds = random_preds(n_assets=40, n_days=60, seed=11)
    cfg = RunConfig(cost_bps=5.0)
    chosen, meta = selection.choose_books(cfg, preds)
    rows = meta["book_candidates"]
    assert [r["books"] for r in rows] == [c.name for c in selection.BOOK_CANDIDATES]
    # each row's net Sharpe is the one a rebook of those settings measures (held days)
    nets = []
    for cand, row in zip(selection.BOOK_CANDIDATES, rows, strict=True):
        _, daily, m = rebook(preds, cfg.replace(**dict(cand.settings)), {})
        assert row["valid_net_sharpe"] == pytest.approx(m["sharpe_net"], rel=1e-9)
        nets.append(daily["long_short_net"].to_numpy())
    # the simplest (first) candidate within one standard error of the best, the error of
    # the difference of two Sharpe ratios on the same days (Jobson-Korkie-Memmel)
    sharpes = [stats.sharpe_ratio(n) for n in nets]
    top = max(range(len(rows)), key=lambda i: (sharpes[i], -i))
    gaps = [stats.sharpe_difference_test(nets[top], n)["z"] for n in nets]
    best = next(i for i in range(len(rows)) if i == top or gaps[i] <= 1.0)
    assert [r["chosen"] for r in rows] == [i == best for i in range(len(rows))]
    assert meta["chosen_books"] == rows[best]["books"]
    want = dict(selection.BOOK_CANDIDATES[best].settings)
    assert {f: getattr(chosen, f) for f in want} == want
    # costs change the criterion: at 0 bps the gross Sharpe decides
    free = selection.choose_books(RunConfig(), preds)[1]["book_candidates"]
    assert [r["valid_net_sharpe"] for r in free] == pytest.approx([r["valid_sharpe"] for r in free])
    # settings the user gives are kept (the stage is skipped), and reach the flags
    assert not selection.gives_books(RunConfig())
    assert selection.gives_books(RunConfig(smooth_days=3))
    flags = selection._flags(RunConfig(hold_buffer=0.1, rebalance_every=5), books=True)
    assert flags.endswith("--rebalance-every 5 --hold-buffer 0.1")


def test_a_select_valid_run_carries_its_chosen_turnover_settings(monkeypatch):
    from test_selection import PANEL, TWO, config

    from alpha_core.research import selection
    from alpha_core.research.pipeline import run_experiment

    monkeypatch.setattr(selection, "CANDIDATES", TWO)
    result = run_experiment(config(cost_bps=5.0), PANEL)
    chosen = result.model_meta["chosen_books"]
    (cand,) = [c for c in selection.BOOK_CANDIDATES if c.name == chosen]
    settings = {**{f: getattr(RunConfig(), f) for f in selection.TURNOVER_FIELDS}}
    settings.update(cand.settings)
    assert {f: getattr(result.config, f) for f in settings} == settings
    assert result.metrics["chosen_books"] == chosen
    # the books are those settings' books: a rebook of the saved config gives them again
    again, _, metrics = rebook(result.predictions, result.config, result.model_meta)
    assert again.equals(result.books) and metrics["net_sharpe"] == result.metrics["net_sharpe"]
    # a run that gives a turnover setting keeps it (no turnover stage)
    given = run_experiment(config(cost_bps=5.0, smooth_days=3), PANEL)
    assert given.config.smooth_days == 3 and "chosen_books" not in given.model_meta
