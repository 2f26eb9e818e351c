"""``alpha fills`` and ``alpha day``: the trades made, and the desk's day in one command.

* ``alpha fills --run RUN FILE``: a broker's fills CSV (``date, asset, [side,] quantity,
  price[, commission]``) read as untrusted input and appended to the lineage's
  ``fills.jsonl``; ``alpha fills --run RUN --assume --data PATH``: every order recorded in
  the ledger filled at the run's execution price on its next bar (next close for
  ``close_to_close``, next open for ``open_to_open``). Both add nothing when repeated.
* ``alpha day --run RUN --data PATH --out DIR [--holdings CSV --capital X] [--alert-cmd CMD]``:
  retrain when due (``--retrain-every``), book through the same code as ``alpha book`` (the
  pre-trade checks with holdings), write the book, orders and monitor report into ``DIR``,
  optionally assume the fills (``--assume-fills``), run the monitor, and alert: ``CMD`` runs
  through the shell with the alert text on stdin and ``ALPHA_ALERT_LEVEL`` (``refused`` or
  ``alert``) in its environment. Running it again for the same date writes the same bytes
  and appends no ledger line.

Exit codes of ``alpha day`` (:data:`EXIT`): 0 written, nothing to alert; 2 refused or bad
input (nothing written; the alert is sent); 3 written, and an alert was raised (decay,
drift, coverage) and sent; 4 written, an alert was due but the alert command failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alpha_core.api import (
    RETRAIN_EVERY,
    DeskService,
    InsideRunError,
    StorageError,
    check_order_settings,
    load_panel,
    read_fills,
    read_holdings,
    write_atomic,
)
from alpha_core.cli.desk import (
    REFUSALS,
    _clean,
    _common,
    _fail,
    _print_json,
    add_book_flags,
    book_and_trade,
    check_out,
    positions_text,
    write_out,
)

EXIT = {"ok": 0, "refused": 2, "alert": 3, "alert_failed": 4}
"""``alpha day``'s exit codes by what happened (documented in ``docs/desk.md``)."""
ALERT_LEVEL_ENV = "ALPHA_ALERT_LEVEL"
ALERT_TIMEOUT = 300.0
"""Seconds an alert command may take before it counts as failed."""


def add_parsers(sub: Any) -> None:
    """Add ``alpha fills`` and ``alpha day`` to ``alpha``'s subparsers."""
    fills = sub.add_parser("fills", help="record the trades made: a fills CSV, or --assume")
    fills.add_argument("--run", required=True, metavar="RUN_ID", help="a saved run")
    fills.add_argument(
        "file", nargs="?", type=Path, default=None,
        help="CSV: date, asset, [side,] quantity, price[, commission]",
    )  # fmt: skip
    fills.add_argument(
        "--assume", action="store_true",
        help="fill every order recorded in the ledger at the next bar's open or close "
        "(the run's label), where that bar is in --data",
    )  # fmt: skip
    fills.add_argument("--data", default=None, metavar="PATH", help="the bars (with --assume)")
    fills.add_argument("--artifacts", type=Path, default=None, help="registry folder")
    fills.add_argument("--json", action="store_true", help="print one JSON object last")
    day = sub.add_parser(
        "day", help="book, write the orders, monitor, retrain when due, alert (for a scheduler)"
    )
    _common(day)
    add_book_flags(day)
    day.add_argument("--out", type=Path, required=True, help="write the day's files here")
    day.add_argument(
        "--alert-cmd", default=None, metavar="CMD",
        help=f"shell command run with the alert on stdin and ${ALERT_LEVEL_ENV} set",
    )  # fmt: skip
    day.add_argument(
        "--retrain-every", choices=tuple(RETRAIN_EVERY), default=None,
        help="retrain first when the data reaches a later month (quarter)",
    )  # fmt: skip
    day.add_argument(
        "--assume-fills", action="store_true",
        help="fill the recorded orders at the execution price once their bar is in the data",
    )  # fmt: skip


def cmd_fills(args: argparse.Namespace) -> int:
    if (args.file is None) == (not args.assume):
        return _fail("give a fills FILE or --assume (one of them)")
    if args.assume and args.data is None:
        return _fail("--assume needs --data (the bars the fills are priced on)")
    service = DeskService(args.artifacts)
    payload: dict[str, Any] = {"run_id": args.run}
    try:
        if args.file is not None:
            added, known = service.import_fills(args.run, read_fills(args.file))
        else:
            panel = load_panel(args.data, metadata=service.run_config(args.run).metadata)
            assumed, added, known = service.assume_fills(args.run, panel)
            payload.update(pending=assumed.pending, without_orders=assumed.without_orders,
                           execution=service.execution(args.run).text())  # fmt: skip
        path = service.fills_path(args.run)
    except REFUSALS as exc:
        return _fail(str(exc))
    payload.update(added=added, already=known, fills_file=str(path))
    if args.json:
        _print_json(payload)
        return 0
    print(f"Fills: {added} added, {known} already recorded ({path})")
    if args.assume:
        print(f"  execution: {payload['execution']}")
        if payload["pending"]:
            print(f"  pending (no fill bar yet): {len(payload['pending'])} orders")
        if payload["without_orders"]:
            print(f"  books without orders: {', '.join(payload['without_orders'])}")
    return 0


def send_alert(command: str, level: str, text: str) -> str | None:
    """Run the alert command through the shell, ``text`` on its stdin and
    ``ALPHA_ALERT_LEVEL=level`` in its environment; why it failed, or None."""
    env = {**os.environ, ALERT_LEVEL_ENV: level}
    try:
        done = subprocess.run(
            command, shell=True, input=text, text=True, env=env, timeout=ALERT_TIMEOUT,
            capture_output=True, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        return f"the alert command could not run: {exc}"
    if done.returncode != 0:
        last = (done.stderr or "").strip().splitlines()
        why = f": {last[-1][:200]}" if last else ""
        return f"the alert command exited with code {done.returncode}{why}"
    return None


def _alert(args: argparse.Namespace, level: str, lines: list[str], facts: dict[str, Any]) -> int:
    """Send the alert (when a command is given) and return the exit code."""
    day = facts.get("as_of") or (str(args.as_of) if args.as_of else "the data's last date")
    text = "\n".join([f"alpha day: run {args.run}, decision date {day}: {level}", *lines]) + "\n"
    facts.update(level=level, alerts=lines)
    code = EXIT["refused" if level == "refused" else "alert"]
    failed = send_alert(args.alert_cmd, level, text) if args.alert_cmd else None
    if failed:
        print(f"alpha: error: {failed}", file=sys.stderr)
        code = code if level == "refused" else EXIT["alert_failed"]
        facts["alert_failed"] = failed
    if level == "refused":
        print(f"alpha: error: {lines[0]}", file=sys.stderr)
    else:
        print(f"alpha: alert: {'; '.join(lines)}", file=sys.stderr)
    return code


def cmd_day(args: argparse.Namespace) -> int:
    """Retrain when due, book, write, assume fills, monitor, alert (module doc)."""
    facts: dict[str, Any] = {"run_id": args.run, "as_of": None}
    try:
        check_out(args.out, args.artifacts)
        service = DeskService(args.artifacts)
        if args.holdings is not None and args.capital is not None:  # bad input: before work
            check_order_settings(args.capital, args.lot_size, args.min_trade)
            read_holdings(args.holdings)
        if args.retrain_every is not None:  # first: a second run finds the same lineage
            child = service.retrain(args.run, data=args.data, every=args.retrain_every)
            facts["retrained"] = child.run_id if child is not None else None
        booked = book_and_trade(args, service)
        book = booked.book
        facts.update(as_of=book.as_of.isoformat(), status=book.status,
                     execution=book.execution_text, n_long=book.n_long,
                     n_short=book.n_short)  # fmt: skip
        written = write_out(args.out, args.run, booked, args.format, status=False)
        if args.assume_fills:
            assumed, added, known = service.assume_fills(args.run, booked.panel)
            facts["fills"] = {"added": added, "already": known, "pending": len(assumed.pending)}
    except (InsideRunError, StorageError, *REFUSALS) as exc:
        prefix = "--out: " if isinstance(exc, InsideRunError) else ""
        code = _alert(args, "refused", [f"refused: {prefix}{exc}"], facts)
        facts["exit_code"] = code
        if args.json:
            _print_json(facts)
        return code
    reasons: list[str] = []
    positions = None
    try:  # the orders are written: a monitor that fails is an alert, not a refusal
        report = service.monitor(args.run, booked.panel)
        reasons, positions = list(report.reasons), report.positions
        monitor_json = json.dumps(_clean(report.to_dict()), indent=2, sort_keys=True)
        written.append(write_atomic(args.out / f"monitor_{book.as_of}.json", monitor_json))
    except (StorageError, *REFUSALS) as exc:
        reasons.append(f"monitor failed: {exc}")
    facts.update(written=[str(p) for p in written], retrain_reasons=reasons,
                 positions=positions is not None)  # fmt: skip
    code = EXIT["ok"]
    if reasons:
        code = _alert(args, "alert", reasons, facts)
    facts["exit_code"] = code
    if args.json:
        _print_json(facts)
        return code
    print(
        f"Day {book.as_of} of {args.run}: {book.n_long} long, {book.n_short} short "
        f"(ledger: {book.status}); execution: {book.execution_text}"
    )
    if "retrained" in facts:
        print(f"  retrained: {facts['retrained'] or 'not due'}")
    for path in written:
        print(f"  wrote {path}")
    print(positions_text(positions))
    print("  alerts: " + ("; ".join(reasons) if reasons else "none"))
    return code


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "fills": cmd_fills,
    "day": cmd_day,
}
"""``alpha fills`` and ``alpha day`` by name."""
