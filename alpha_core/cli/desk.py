"""``alpha book``, ``alpha monitor``, ``alpha retrain``: the production desk from the shell.

Each calls the run service (:class:`alpha_core.runs.service.RunService`). With ``--json`` the last
line printed is one JSON object (progress and warnings go to stderr):

* ``alpha book``: the book's facts (``as_of``, ``n_long``, ``n_short``, ``model_sha256``,
  ``data_fingerprint``, ``config_hash``, ``status``, dropped/new/unscorable assets), its rows
  under ``book`` and, with ``--holdings``, the orders under ``orders`` and ``close`` (names
  closed out). ``--out DIR`` writes ``book_<as_of>.csv`` (and ``orders_<as_of>.csv``).
* ``alpha monitor``: the live track record against the backtest, drift, coverage and the
  retrain recommendation (:meth:`alpha_core.desk.monitor.MonitorReport.to_dict`).
* ``alpha retrain``: ``run_id`` of the child run (null when not due) and its metrics.

A refusal (stale data, a date before the model's training end, a conflicting ledger entry,
bad holdings ...) prints one line on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core.api import (
    BOOK_ROW_COLUMNS,
    RETRAIN_EVERY,
    DeskError,
    DeskService,
    InsideRunError,
    LedgerConflict,
    LedgerMoved,
    OrdersError,
    PanelError,
    check_outside_runs,
    closing,
    load_panel,
    make_orders,
    orders_csv,
    read_holdings,
    write_atomic,
)

REFUSALS = (
    DeskError,
    LedgerConflict,
    LedgerMoved,
    OrdersError,
    PanelError,
    FileNotFoundError,
    ValueError,
)
"""Refused with one line and exit code 2 (a damaged run is the registry's DamagedRunError,
a ValueError; a full disk, StorageError, is handled by ``alpha`` itself)."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, metavar="RUN_ID", help="a saved run")
    parser.add_argument(
        "--data",
        required=True,
        metavar="PATH",
        help="the bars: a file, folder or zip, 'demo', or the demo continued past its end "
        "(demo:YYYY-MM-DD, with a planted regime shift: demo:YYYY-MM-DD:shift=YYYY-MM-DD)",
    )
    parser.add_argument("--artifacts", type=Path, default=None, help="registry folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def add_parsers(sub: Any) -> None:
    """Add the desk's subcommands to ``alpha``'s subparsers."""
    book = sub.add_parser("book", help="tomorrow's book (and orders) from a saved run")
    _common(book)
    book.add_argument("--as-of", type=_date, default=None, help="decision date (default: last)")
    book.add_argument(
        "--today", type=_date, default=None, help="refuse data older than this (1 session)"
    )
    book.add_argument("--holdings", type=Path, default=None, help="CSV: asset, quantity|weight")
    book.add_argument("--capital", type=float, default=None, help="capital the weights size")
    book.add_argument("--lot-size", type=float, default=1.0, help="round targets to lots")
    book.add_argument("--min-trade", type=float, default=0.0, help="smallest order notional")
    book.add_argument("--out", type=Path, default=None, help="write the book/orders CSVs here")
    book.add_argument("--force", action="store_true", help="record a conflicting book too")
    book.add_argument("--no-record", action="store_true", help="do not append to the ledger")
    monitor = sub.add_parser("monitor", help="live track record, decay and drift of a run")
    _common(monitor)
    retrain = sub.add_parser("retrain", help="a child run trained on the newest data")
    _common(retrain)
    retrain.add_argument("--every", choices=tuple(RETRAIN_EVERY), default=None)
    retrain.add_argument("--no-explain", action="store_true", help="skip the SHAP cache")


def _fail(message: str) -> int:
    print(f"alpha: error: {message}", file=sys.stderr)
    return 2


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, dates ISO text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _print_json(payload: dict[str, Any]) -> None:
    print(json.dumps(_clean(payload), sort_keys=True))


def cmd_book(args: argparse.Namespace) -> int:
    if (args.holdings is None) != (args.capital is None):
        return _fail("--holdings and --capital go together")
    service = DeskService(args.artifacts)
    if args.out is not None:
        try:  # before anything is booked: the CSVs never go inside a run folder
            check_outside_runs(args.out / "book.csv", service.root)
        except InsideRunError as exc:
            return _fail(f"--out: {exc}")
    try:
        panel = load_panel(args.data, metadata=service.run_config(args.run).metadata)
        book = service.book(
            args.run, panel, as_of=args.as_of, today=args.today,
            record=not args.no_record, force=args.force,
        )  # fmt: skip
        orders = None
        if args.holdings is not None:
            orders = make_orders(
                book.rows, read_holdings(args.holdings), service.prices(panel, book.as_of),
                args.capital, args.lot_size, args.min_trade,
            )  # fmt: skip
    except REFUSALS as exc:
        return _fail(str(exc))
    if args.out is not None:
        write_atomic(
            args.out / f"book_{book.as_of}.csv", book.rows.select(BOOK_ROW_COLUMNS).write_csv()
        )
        if orders is not None:
            write_atomic(args.out / f"orders_{book.as_of}.csv", orders_csv(orders))
    payload: dict[str, Any] = {**book.summary(), "book": book.records()}
    if orders is not None:
        sent = orders.filter(pl.col("order_qty") != 0).drop("ideal_qty")
        payload.update(orders=sent.to_dicts(), close=closing(orders))
    if args.json:
        _print_json(payload)
        return 0
    print(
        f"Book for the session after {book.as_of}: {book.n_long} long, {book.n_short} short "
        f"(model {book.model}, sha256 {book.model_sha256[:12]}, data {book.data_fingerprint}; "
        f"ledger: {book.status})"
    )
    for label, names in (
        ("dropped", book.dropped),
        ("new", book.new),
        ("unscored", book.unscorable),
    ):
        if names:
            print(f"  {label}: {', '.join(names)}")
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True):
        print(book.rows.select(BOOK_ROW_COLUMNS))
        if orders is not None:
            print(orders.filter(pl.col("order_qty") != 0).drop("ideal_qty"))
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    try:
        report = DeskService(args.artifacts).monitor(args.run, data=args.data)
    except REFUSALS as exc:
        return _fail(str(exc))
    payload = report.to_dict()
    if args.json:
        _print_json(payload)
        return 0
    print(f"Live track record of {args.run}: {report.daily.height} realised days")
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True):
        print(report.decay)
        print(report.features)
    print(f"Predictions: PSI {report.predictions['psi']:.3f} ({report.predictions['status']})")
    print("Retrain recommended: " + ("; ".join(report.reasons) if report.reasons else "no"))
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    try:
        result = DeskService(args.artifacts).retrain(
            args.run, data=args.data, every=args.every, explain=not args.no_explain
        )
    except REFUSALS as exc:
        return _fail(str(exc))
    if args.json:
        run_id = result.run_id if result else None
        _print_json({"run_id": run_id, **(result.metrics if result else {})})
    elif result is None:
        print(f"No retraining due for {args.run} ({args.every or 'any new data'}).")
    else:
        window = f"{result.config.test_start} .. {result.config.test_end}"
        print(f"Retrained: run {result.run_id} (child of {args.run}), tested on {window}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "book": cmd_book,
    "monitor": cmd_monitor,
    "retrain": cmd_retrain,
}
"""The desk's subcommands of ``alpha`` by name."""
