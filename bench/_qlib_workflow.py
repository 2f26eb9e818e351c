"""Runs INSIDE the separate Qlib virtualenv (never the project's): Qlib's Alpha158 + LightGBM.

Usage (by bench/bench_costs.py ``--qlib-python``, not by hand):
  /tmp/qlibenv/bin/python bench/_qlib_workflow.py --provider-uri DIR

Qlib 0.9.7's own workflow with its defaults: ``qlib.contrib.data.handler.Alpha158`` (its
default label and processors) in a ``DatasetH`` over the DEVELOPERS.md split (train
2013-03-01 .. 2015-12-31, valid 2016-01-01 .. 2016-06-30, test 2016-07-01 .. 2018-01-31),
and ``qlib.contrib.model.gbdt.LGBModel`` with the parameters of Qlib's benchmark config
``examples/benchmarks/LightGBM/workflow_config_lightgbm_Alpha158.yaml`` (early stopping on
the valid segment), then its predictions on the test segment. The caller times the whole
process (user + sys, imports included, as it times ``alpha run``). Prints one JSON line:
the test mean daily rank IC against Qlib's label, the number of trees, the test rows.
Imports only qlib, pandas, numpy and the standard library.
"""

from __future__ import annotations

import argparse
import json

import qlib
from qlib.constant import REG_US

SEGMENTS = {
    "train": ("2013-03-01", "2015-12-31"),
    "valid": ("2016-01-01", "2016-06-30"),
    "test": ("2016-07-01", "2018-01-31"),
}
MODEL = {  # workflow_config_lightgbm_Alpha158.yaml (Qlib 0.9.7)
    "loss": "mse",
    "colsample_bytree": 0.8879,
    "learning_rate": 0.2,
    "subsample": 0.8789,
    "lambda_l1": 205.6999,
    "lambda_l2": 580.9768,
    "max_depth": 8,
    "num_leaves": 210,
    "num_threads": 20,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--provider-uri", required=True)
    ap.add_argument(
        "--label",
        choices=("qlib", "next-day"),
        default="qlib",
        help="qlib: Alpha158's default label (close t+1 -> t+2); next-day: close t -> t+1, "
        "the DEVELOPERS.md reference's",
    )
    ap.add_argument(
        "--records",
        action="store_true",
        help="also the benchmark config's records in an experiment (as qrun does): the "
        "signal, its IC analysis and a TopkDropout backtest (top 50, drop 5) with costs",
    )
    ap.add_argument(
        "--cost-bps",
        type=float,
        default=None,
        help="TopkDropout's open and close cost in bps (default: the benchmark config's 5 and 15)",
    )
    ap.add_argument(
        "--segments",
        default=None,
        help='JSON {"train": [start, end], "valid": [...], "test": [...]} (default: the S&P split)',
    )
    args = ap.parse_args()
    if args.segments:
        SEGMENTS.update({k: tuple(v) for k, v in json.loads(args.segments).items()})
    qlib.init(provider_uri=args.provider_uri, region=REG_US)
    from qlib.contrib.data.handler import Alpha158
    from qlib.contrib.model.gbdt import LGBModel
    from qlib.data.dataset import DatasetH

    label = {"label": (["Ref($close, -1)/$close - 1"], ["LABEL0"])}
    handler = Alpha158(
        **(label if args.label == "next-day" else {}),
        instruments="all",
        start_time=SEGMENTS["train"][0],
        end_time=SEGMENTS["test"][1],
        fit_start_time=SEGMENTS["train"][0],
        fit_end_time=SEGMENTS["train"][1],
    )
    dataset = DatasetH(handler, segments=SEGMENTS)
    model = LGBModel(**MODEL)
    topk: dict = {}
    if args.records:
        topk = _with_records(model, dataset, args.cost_bps)
    else:
        model.fit(dataset)
    pred = model.predict(dataset, segment="test")
    label = dataset.prepare("test", col_set="label").iloc[:, 0]
    both = pred.to_frame("score").join(label.rename("label"), how="inner").dropna()
    daily = both.groupby(level="datetime").apply(
        lambda g: g["score"].rank().corr(g["label"].rank())
    )
    print(
        json.dumps(
            {
                **topk,
                "rank_ic_mean": float(daily.mean()),
                "trees": int(model.model.current_iteration()),
                "test_rows": len(both),
            }
        )
    )


def _with_records(model, dataset, cost_bps: float | None = None) -> dict:  # noqa: ANN001
    """Fit and run the benchmark config's records (SignalRecord, SigAnaRecord, PortAnaRecord)
    in an experiment. The config's CSI300 benchmark is not in a US panel: the equal-weight
    mean of every instrument's return stands in (what ``alpha run`` draws beside its books)."""
    from qlib.data import D
    from qlib.workflow import R
    from qlib.workflow.record_temp import PortAnaRecord, SigAnaRecord, SignalRecord

    codes = D.list_instruments(D.instruments("all"), as_list=True)
    port = {
        "strategy": {
            "class": "TopkDropoutStrategy",
            "module_path": "qlib.contrib.strategy.signal_strategy",
            "kwargs": {"signal": "<PRED>", "topk": 50, "n_drop": 5},
        },
        "backtest": {
            "start_time": SEGMENTS["test"][0],
            "end_time": SEGMENTS["test"][1],
            "account": 100_000_000,
            "benchmark": codes,
            "exchange_kwargs": {
                "limit_threshold": None,
                "deal_price": "close",
                "open_cost": 0.0005 if cost_bps is None else cost_bps / 1e4,
                "close_cost": 0.0015 if cost_bps is None else cost_bps / 1e4,
                "min_cost": 5,
            },
        },
    }
    with R.start(experiment_name="alpha_lab_bench"):
        model.fit(dataset)
        recorder = R.get_recorder()
        SignalRecord(model, dataset, recorder).generate()
        SigAnaRecord(recorder).generate()
        PortAnaRecord(recorder, port, "day").generate()
        analysis = recorder.load_object("portfolio_analysis/port_analysis_1day.pkl")
        report = recorder.load_object("portfolio_analysis/report_normal_1day.pkl")
    risk = analysis["risk"]
    net = report["return"] - report["cost"] - report["bench"]
    return {
        "topk_ir_with_cost": float(risk.loc[("excess_return_with_cost", "information_ratio")]),
        "topk_ir_without_cost": float(
            risk.loc[("excess_return_without_cost", "information_ratio")]
        ),
        "topk_annual_excess_with_cost": float(
            risk.loc[("excess_return_with_cost", "annualized_return")]
        ),
        "topk_turnover_mean": float(report["turnover"].mean()),
        "topk_sharpe_excess_with_cost": float(net.mean() / net.std() * 252**0.5),
        "topk_days": int(len(net)),
    }


if __name__ == "__main__":
    main()
