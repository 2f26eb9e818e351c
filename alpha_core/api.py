"""The engine's public face for front ends (the CLI, ``alpha_ui``, the pages).

Services (:class:`RunService`), the errors they raise, loading and judging data, the run
registry's listing, the desk's orders and the sweep specification. Front ends import the
engine through this module, :mod:`alpha_core.views` (chart- and table-ready frames) and
:mod:`alpha_core.config` (settings) only; ``tests/test_imports.py`` enforces it.
"""

from alpha_core.base.csvsafe import csv_text, neutralise_csv, write_csv_safe
from alpha_core.base.executor import (
    DEFAULT_TIMEOUT,
    EXECUTORS,
    MAX_WORKERS,
    TaskError,
    make_executor,
)
from alpha_core.base.progress import Progress, ignore
from alpha_core.base.storage import StorageError, write_atomic
from alpha_core.data.panel import PanelError, assets_by_class, live_assets, load_panel, upload_types
from alpha_core.data.quality import QualityReport, check_quality
from alpha_core.desk.book import BOOK_ROW_COLUMNS, DeskError
from alpha_core.desk.checks import CHECKS, CheckSettings, ChecksRefused, parse_overrides
from alpha_core.desk.corporate import CorporateActionsError, read_actions
from alpha_core.desk.fills import FillsError, read_fills
from alpha_core.desk.ledger import LedgerConflict, LedgerMoved
from alpha_core.desk.orders import (
    OrdersError,
    check_order_settings,
    closing,
    make_orders,
    orders_csv,
    read_holdings,
    sent_orders,
)
from alpha_core.desk.service import RETRAIN_EVERY, DeskService, RetrainPlan
from alpha_core.desk.tickets import (
    FORMATS,
    ORDER_TYPES,
    TICKET_COLUMNS,
    TicketSettings,
    summary_text,
)
from alpha_core.models.lightgbm import fastshap
from alpha_core.research.pipeline import check_windows
from alpha_core.research.result import RunResult
from alpha_core.research.walkforward import plan_folds
from alpha_core.runs.registry import (
    DamagedRun,
    DamagedRunError,
    DeleteRefused,
    InsideRunError,
    Listing,
    RunInfo,
    check_outside_runs,
    default_root,
    is_run_id,
    list_runs,
    scan_runs,
)
from alpha_core.runs.service import Cancelled, Rebooked, RunService, source_label
from alpha_core.runs.sweep import (
    SEARCH_SPACE,
    SweepService,
    SweepSpec,
    grid_trials,
    search_trials,
)
from alpha_core.runs.sweep_file import MAX_TRIALS, SweepFile, SweepFileError, read_sweep_file

__all__ = [
    "BOOK_ROW_COLUMNS",
    "CHECKS",
    "CheckSettings",
    "ChecksRefused",
    "CorporateActionsError",
    "FORMATS",
    "FillsError",
    "ORDER_TYPES",
    "TICKET_COLUMNS",
    "TicketSettings",
    "parse_overrides",
    "read_actions",
    "read_fills",
    "summary_text",
    "Cancelled",
    "DEFAULT_TIMEOUT",
    "DamagedRun",
    "DamagedRunError",
    "DeleteRefused",
    "DeskService",
    "DeskError",
    "EXECUTORS",
    "InsideRunError",
    "LedgerConflict",
    "MAX_TRIALS",
    "MAX_WORKERS",
    "LedgerMoved",
    "Listing",
    "OrdersError",
    "PanelError",
    "Progress",
    "QualityReport",
    "RETRAIN_EVERY",
    "Rebooked",
    "RetrainPlan",
    "RunInfo",
    "RunResult",
    "RunService",
    "SEARCH_SPACE",
    "SweepFile",
    "SweepFileError",
    "StorageError",
    "SweepService",
    "SweepSpec",
    "TaskError",
    "assets_by_class",
    "check_order_settings",
    "check_outside_runs",
    "check_quality",
    "check_windows",
    "csv_text",
    "closing",
    "default_root",
    "fastshap",
    "grid_trials",
    "ignore",
    "is_run_id",
    "list_runs",
    "live_assets",
    "load_panel",
    "make_executor",
    "make_orders",
    "neutralise_csv",
    "orders_csv",
    "plan_folds",
    "read_holdings",
    "read_sweep_file",
    "scan_runs",
    "search_trials",
    "sent_orders",
    "source_label",
    "upload_types",
    "write_atomic",
    "write_csv_safe",
]
