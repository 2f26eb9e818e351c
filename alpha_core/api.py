"""The engine's public face for front ends (the CLI, ``alpha_ui``, the pages).

Services (:class:`RunService`), the errors they raise, loading and judging data, the run
registry's listing, the desk's orders and the sweep specification. Front ends import the
engine through this module, :mod:`alpha_core.views` (chart- and table-ready frames) and
:mod:`alpha_core.config` (settings) only; ``tests/test_imports.py`` enforces it.
"""

from alpha_core.base.executor import DEFAULT_TIMEOUT, EXECUTORS, TaskError, make_executor
from alpha_core.base.progress import Progress, ignore
from alpha_core.base.storage import StorageError, write_atomic
from alpha_core.data.panel import PanelError, assets_by_class, live_assets, load_panel, upload_types
from alpha_core.data.quality import QualityReport, check_quality
from alpha_core.desk.book import BOOK_ROW_COLUMNS, DeskError
from alpha_core.desk.ledger import LedgerConflict, LedgerMoved
from alpha_core.desk.orders import (
    OrdersError,
    closing,
    make_orders,
    orders_csv,
    read_holdings,
    sent_orders,
)
from alpha_core.desk.service import RETRAIN_EVERY, DeskService, RetrainPlan
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
    read_toml,
    search_trials,
)

__all__ = [
    "BOOK_ROW_COLUMNS",
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
    "StorageError",
    "SweepService",
    "SweepSpec",
    "TaskError",
    "assets_by_class",
    "check_outside_runs",
    "check_quality",
    "check_windows",
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
    "orders_csv",
    "plan_folds",
    "read_holdings",
    "read_toml",
    "scan_runs",
    "search_trials",
    "sent_orders",
    "source_label",
    "upload_types",
    "write_atomic",
]
