"""``alpha book``, ``alpha monitor``, ``alpha retrain``: the production desk from the shell.

Each calls the run service (:class:`alpha_core.runs.service.RunService`). With ``--json`` the last
line printed is one JSON object (progress and warnings go to stderr):

* ``alpha book``: the book's facts (``as_of``, ``n_long``, ``n_short``, ``model_sha256``,
  ``data_fingerprint``, ``config_hash``, ``status``, dropped/new/unscorable assets), its rows
  under ``book`` and, with ``--holdings``, the orders under ``orders`` and ``close`` (names
  closed out), the broker orders under ``tickets``, ``summary``, ``checks``, ``overrides``
  and ``corporate_actions``. ``--out DIR`` writes ``book_<as_of>.csv`` (and
  ``orders_<as_of>.csv`` in ``--format generic|ibkr-basket`` with
  ``orders_summary_<as_of>.json``). Orders pass the pre-trade checks
  (:mod:`alpha_core.desk.checks`) unless named in ``--override``; ``--corporate-actions``
  applies splits and delistings before the book is formed.
* ``alpha monitor``: the live track record against the backtest, drift, coverage and the
  retrain recommendation (:meth:`alpha_core.desk.monitor.MonitorReport.to_dict`), and the
  ledger lines skipped as unreadable (``skipped_ledger_lines``: count, line numbers, why).
* ``alpha retrain``: ``run_id`` of the child run (null when not due) and its metrics.

A refusal (stale data, a date before the model's training end, a conflicting ledger entry,
bad holdings, a pre-trade check ...) prints one line on stderr and exits with code 2, writing
nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core.api import (
    BOOK_ROW_COLUMNS,
    CHECKS,
    FORMATS,
    ORDER_TYPES,
    RETRAIN_EVERY,
    CheckSettings,
    DeskError,
    DeskService,
    InsideRunError,
    LedgerConflict,
    LedgerMoved,
    OrdersError,
    PanelError,
    TicketSettings,
    check_order_settings,
    check_outside_runs,
    closing,
    load_panel,
    parse_overrides,
    read_actions,
    read_holdings,
    summary_text,
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
    add_book_flags(book)
    book.add_argument("--out", type=Path, default=None, help="write the book/orders CSVs here")
    book.add_argument("--force", action="store_true", help="record a conflicting book too")
    book.add_argument("--no-record", action="store_true", help="do not append to the ledger")
    monitor = sub.add_parser("monitor", help="live track record, decay and drift of a run")
    _common(monitor)
    retrain = sub.add_parser("retrain", help="a child run trained on the newest data")
    _common(retrain)
    retrain.add_argument("--every", choices=tuple(RETRAIN_EVERY), default=None)
    retrain.add_argument("--no-explain", action="store_true", help="skip the SHAP cache")


def add_book_flags(book: argparse.ArgumentParser) -> None:
    """The flags of a book and its orders (``alpha book`` and ``alpha day``)."""
    book.add_argument("--as-of", type=_date, default=None, help="decision date (default: last)")
    book.add_argument(
        "--today", type=_date, default=None, help="refuse data older than this (1 session)"
    )
    book.add_argument("--holdings", type=Path, default=None, help="CSV: asset, quantity|weight")
    book.add_argument("--capital", type=float, default=None, help="capital the weights size")
    book.add_argument("--lot-size", type=float, default=1.0, help="round targets to lots")
    book.add_argument("--min-trade", type=float, default=0.0, help="smallest order notional")
    book.add_argument(
        "--override", action="append", default=[], metavar="CHECK[,CHECK]",
        help=f"let orders through these pre-trade checks ({', '.join(CHECKS[1:])}); "
        "recorded in the ledger and the output",
    )  # fmt: skip
    book.add_argument(
        "--check", action="append", default=[], metavar="NAME=VALUE",
        help="a pre-trade check threshold (docs/desk.md), e.g. max_move=0.3",
    )  # fmt: skip
    book.add_argument(
        "--corporate-actions", type=Path, default=None, metavar="CSV",
        help="CSV: asset, date, ratio (split ratio) or 'delisted'",
    )  # fmt: skip
    book.add_argument("--order-type", choices=tuple(ORDER_TYPES), default="moc",
                      help="moc (market on close), market, loc (limit on close)")  # fmt: skip
    book.add_argument("--limit-offset-bps", type=float, default=None,
                      help="loc: limit this far through the close (default 50)")  # fmt: skip
    book.add_argument("--account", default="", help="broker account written on each order")
    book.add_argument("--format", choices=FORMATS, default="generic",
                      help="the orders file: generic or ibkr-basket")  # fmt: skip


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


def _check_settings(pairs: list[str]) -> CheckSettings:
    """:class:`CheckSettings` with ``NAME=VALUE`` thresholds from ``--check``."""
    fields = {f: t for f, t in CheckSettings.__annotations__.items()}
    changes: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            raise OrdersError(f"--check {pair!r}: NAME=VALUE with NAME one of {', '.join(fields)}")
        if name == "kill_switch":
            changes[name] = value
            continue
        try:
            changes[name] = int(value) if fields[name] == "int" else float(value)
        except ValueError:
            raise OrdersError(f"--check {pair!r}: {value!r} is not a number") from None
    return CheckSettings(**changes)


def _ticket_settings(args: argparse.Namespace) -> TicketSettings:
    offset = {} if args.limit_offset_bps is None else {"limit_offset_bps": args.limit_offset_bps}
    return TicketSettings(order_type=args.order_type, account=args.account, **offset)


@dataclass
class Booked:
    """What booking did: the book, its checked orders (None without holdings), the
    corporate actions applied and the panel the book was formed on (after them)."""

    book: Any
    trade: Any
    applied: list[dict[str, Any]]
    panel: pl.DataFrame


def check_out(out: Path | None, artifacts: Path | None) -> None:
    """Refuse an ``--out`` folder inside a run folder (InsideRunError), before any work."""
    if out is not None:
        check_outside_runs(out / "book.csv", DeskService(artifacts).root)


def book_and_trade(
    args: argparse.Namespace, service: DeskService, *, record: bool = True, force: bool = False
) -> Booked:
    """Book (and, with holdings, form and check the orders), then record the book in the
    ledger: the one path of ``alpha book`` and ``alpha day``. Every input is checked before
    any work, the pre-trade checks run once the orders are formed, and the ledger is
    appended only once they pass: a refusal (one of :data:`REFUSALS`) writes nothing."""
    if (args.holdings is None) != (args.capital is None):
        raise OrdersError("--holdings and --capital go together")
    overrides = parse_overrides(",".join(args.override))
    checks = _check_settings(args.check)
    ticket_settings = _ticket_settings(args)
    if args.holdings is not None:
        check_order_settings(args.capital, args.lot_size, args.min_trade)
    holdings = read_holdings(args.holdings) if args.holdings is not None else None
    actions = read_actions(args.corporate_actions) if args.corporate_actions else []
    panel = load_panel(args.data, metadata=service.run_config(args.run).metadata)
    applied: list[dict[str, Any]] = []
    if actions:
        adjusted = service.corporate_actions(panel, actions, args.as_of, holdings)
        panel, holdings, applied = adjusted.panel, adjusted.holdings, adjusted.applied
    book = service.book(args.run, panel, as_of=args.as_of, today=args.today, record=False)
    trade = None
    if holdings is not None:
        trade = service.trade(
            args.run, book, panel, holdings, args.capital, args.lot_size, args.min_trade,
            overrides=overrides, check_settings=checks, ticket_settings=ticket_settings,
            corporate_actions=applied,
        )  # fmt: skip
    if record:
        pre_trade = trade.pre_trade() if trade is not None else None
        service.record(args.run, book, force=force, pre_trade=pre_trade)
    return Booked(book, trade, applied, panel)


def write_out(out: Path, run_id: str, booked: Booked, fmt: str, status: bool = True) -> list[Path]:
    """``book_<as_of>.csv`` and, with orders, ``orders_<as_of>.csv`` (in ``fmt``) and
    ``orders_summary_<as_of>.json`` (with the ledger's ``status`` unless ``status`` is
    False: ``alpha day`` writes the same bytes on every run of a date)."""
    book, trade = booked.book, booked.trade
    written = [write_atomic(out / f"book_{book.as_of}.csv", book.csv())]
    if trade is not None:
        written.append(write_atomic(out / f"orders_{book.as_of}.csv", trade.file(fmt)))
        facts = {"as_of": book.as_of, "run_id": run_id, "format": fmt,
                 "execution": book.execution_text, **trade.to_dict()}  # fmt: skip
        if status:
            facts["status"] = book.status
        written.append(write_atomic(
            out / f"orders_summary_{book.as_of}.json",
            json.dumps(_clean(facts), indent=2, sort_keys=True),
        ))  # fmt: skip
    return written


def book_payload(booked: Booked) -> dict[str, Any]:
    """The ``--json`` object of a book: its facts, rows and, with orders, the orders."""
    book, trade = booked.book, booked.trade
    payload: dict[str, Any] = {**book.summary(), "execution_text": book.execution_text,
                               "book": book.records()}  # fmt: skip
    if trade is not None:
        orders = trade.orders
        sent = orders.filter(pl.col("order_qty") != 0).drop("ideal_qty")
        payload.update(orders=sent.to_dicts(), close=closing(orders),
                       tickets=trade.tickets.to_dicts(), **trade.to_dict())  # fmt: skip
    return payload


def print_book(booked: Booked) -> None:
    """The book (and orders) as text."""
    book, trade = booked.book, booked.trade
    print(
        f"Book for the session after {book.as_of}: {book.n_long} long, {book.n_short} short "
        f"(model {book.model}, sha256 {book.model_sha256[:12]}, data {book.data_fingerprint}; "
        f"ledger: {book.status})"
    )
    print(f"  execution: {book.execution_text}")
    for label, names in (
        ("dropped", book.dropped),
        ("new", book.new),
        ("unscored", book.unscorable),
    ):
        if names:
            print(f"  {label}: {', '.join(names)}")
    for action in booked.applied:
        print(f"  corporate action: {action['describe']} (held {action['held_before']} -> "
              f"{action['held_after']})")  # fmt: skip
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True):
        print(book.rows.select(BOOK_ROW_COLUMNS))
        if trade is not None:
            print(trade.tickets.drop("account", "leg"))
    if trade is not None:
        print(summary_text(trade.summary))
        if trade.overridden_text:
            print(trade.overridden_text)


def cmd_book(args: argparse.Namespace) -> int:
    """Every input is checked before any work, the pre-trade checks run once the orders are
    formed, and the ledger is appended only once they pass: a refusal leaves nothing
    written."""
    try:
        check_out(args.out, args.artifacts)
    except InsideRunError as exc:  # before anything is booked: never inside a run folder
        return _fail(f"--out: {exc}")
    try:
        booked = book_and_trade(
            args, DeskService(args.artifacts), record=not args.no_record, force=args.force
        )
    except REFUSALS as exc:
        return _fail(str(exc))
    if args.out is not None:
        write_out(args.out, args.run, booked, args.format)
    if args.json:
        if booked.trade is not None and booked.trade.overridden_text:
            print(f"alpha: warning: {booked.trade.overridden_text}", file=sys.stderr)
        _print_json(book_payload(booked))
        return 0
    print_book(booked)
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    try:
        report = DeskService(args.artifacts).monitor(args.run, data=args.data)
    except REFUSALS as exc:
        return _fail(str(exc))
    payload = report.to_dict()
    if args.json:
        if report.skipped:  # in the object, and on stderr for the person at the terminal
            print(f"alpha: warning: {report.skipped_text}", file=sys.stderr)
        _print_json(payload)
        return 0
    print(f"Paper record of {args.run} (the ledger's books at the label's returns): "
          f"{report.daily.height} realised days")  # fmt: skip
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True):
        print(report.decay)
        print(report.features)
    print(f"Predictions: PSI {report.predictions['psi']:.3f} ({report.predictions['status']})")
    print("Retrain recommended: " + ("; ".join(report.reasons) if report.reasons else "no"))
    print(positions_text(report.positions))
    if report.skipped:
        print(report.skipped_text)
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


def positions_text(record: dict[str, Any] | None) -> str:
    """The live record from fills and positions, as text (monitor and day)."""
    if not record:
        return "Live record from fills: no fills (alpha fills)"
    lines = [
        f"Live record from fills and positions: {record['days']} days, {record['n_fills']} "
        f"fills; P&L net of traded costs {record['pnl_net']:,.2f} (costs "
        f"{record['costs']:,.2f}); gross {record['gross']:,.2f}, net {record['net']:,.2f}, "
        f"cash {record['cash']:,.2f}"
    ]
    for row in record["daily"][-10:]:
        lines.append(
            f"  {row['date']}: P&L {row['pnl_net']:,.2f} (costs {row['costs']:,.2f}), "
            f"cumulative {row['cumulative']:,.2f}, gross {row['gross']:,.2f}, net "
            f"{row['net']:,.2f}, cash {row['cash']:,.2f}"
        )
    return "\n".join(lines)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "book": cmd_book,
    "monitor": cmd_monitor,
    "retrain": cmd_retrain,
}
"""The desk's subcommands of ``alpha`` by name."""
