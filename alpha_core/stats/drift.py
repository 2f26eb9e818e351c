"""Distribution drift between a reference sample and a recent one: PSI and a two-sample test.

* Population stability index (:func:`psi`): the reference's deciles (``bins`` quantile bins,
  duplicate edges merged) cut both samples; with ``r_i`` and ``c_i`` the shares of the
  reference and the recent sample in bin ``i`` (each floored at :data:`PSI_FLOOR`, so an
  empty bin stays finite), ``PSI = sum_i (c_i - r_i) * ln(c_i / r_i)``. Rules of thumb:
  below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a large one.
* Two-sample Kolmogorov-Smirnov (:func:`ks_test`): the largest gap between the two empirical
  CDFs and its p-value (``scipy.stats.ks_2samp``, exact for small samples, asymptotic else).

With hundreds of thousands of reference rows the KS test finds tiny, harmless differences
significant, so a pooled sample is flagged only when its PSI crosses the threshold *and* the
test rejects (:func:`feature_drift`, :func:`status`). Missing values are left out of both
samples (their share is reported beside).

**One day against its reference** (:func:`day_drift`, the desk's feature drift). A single
day's cross-section differs from a pooled multi-year sample even when nothing is wrong:
sampling noise of a few dozen assets, and the market's common moves (a volatile week puts
every asset's volatility in the top deciles). So a day is judged against the reference's
*own days*: each reference day's cross-section gets three statistics, and so does today's:

* ``psi``: its PSI against the pooled reference (the pooled deciles cut it);
* ``location``: ``|median - c| / s``, with ``c`` and ``s`` the median and the robust spread
  (1.4826 x MAD) of the reference days' medians;
* ``scale``: the same of the day's log interquartile range (a constant, zeroed feature has
  an IQR of 0: ``scale`` is infinite).

``s`` is floored at the sampling noise of a day's statistic (the median's standard error
``1.2533 * sigma / sqrt(n)`` with ``sigma`` = pooled IQR / 1.349, and ``1 / sqrt(n)`` for the
log IQR, ``n`` the reference days' median count), so a feature whose daily median never moves
(a per-date rank) cannot divide by zero. The *alert threshold* of ``location`` and ``scale`` is the
``1 - alpha / m`` quantile of its values on the reference days (``m`` = 2 x the features
judged: Bonferroni, so on a day like the reference's the chance that any statistic of any
feature alerts is about ``alpha``; with fewer than ``m / alpha`` reference days that quantile
is their maximum); its *warn threshold* the ``warn_quantile`` quantile. Both are floored:
PSI at ``psi_warn``, ``location`` and ``scale`` at ``z_floor``. A feature's
status is ``alert`` when ``location`` or ``scale`` is above its alert threshold (the PSI,
which saturates, only warns), ``warn`` above its warn
threshold, else ``ok``; :func:`drift_alert` says whether the day drifted: a feature alerts, or
at least ``min_share`` of the features judged warn or alert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

PSI_FLOOR = 1e-4
"""Smallest bin share used in the PSI (an empty bin would make it infinite)."""


@dataclass(frozen=True)
class DriftSettings:
    """Thresholds of the drift report (the desk's own settings, not the run's)."""

    recent_days: int = 20
    """Trading days of the recent sample (the last ones of the data)."""
    bins: int = 10
    psi_warn: float = 0.1
    psi_alert: float = 0.25
    ks_alpha: float = 0.01
    max_reference_rows: int = 200_000
    """Larger reference samples are thinned to this many rows (evenly, deterministic)."""
    alpha: float = 0.05
    """Day drift: family-wise false-alarm rate of a normal day (Bonferroni over the features'
    statistics)."""
    warn_quantile: float = 0.99
    """Day drift: quantile of the reference days from which a statistic warns."""
    z_floor: float = 3.0
    """Day drift: smallest alert/warn threshold of ``location`` and ``scale`` (in spreads)."""
    min_share: float = 0.3
    """Day drift: share of the features judged that warn (or alert) from which the day drifted."""


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[np.isfinite(x)]


def psi_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges: the reference's ``1/bins .. (bins-1)/bins`` quantiles, deduplicated."""
    ref = _finite(reference)
    if ref.size == 0:
        return np.array([])
    return np.unique(np.quantile(ref, np.arange(1, bins) / bins))


def bin_shares(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``x`` in each bin ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    values = _finite(x)
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / max(values.size, 1)


def psi(reference: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``recent`` against ``reference`` (module doc)."""
    ref, cur = _finite(reference), _finite(recent)
    if ref.size == 0 or cur.size == 0:
        return math.nan
    edges = psi_edges(ref, bins)
    r = np.maximum(bin_shares(ref, edges), PSI_FLOOR)
    c = np.maximum(bin_shares(cur, edges), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_test(reference: np.ndarray, recent: np.ndarray) -> tuple[float, float]:
    """``(statistic, p_value)`` of the two-sample Kolmogorov-Smirnov test."""
    from scipy import stats  # imported when used: scipy.stats takes ~1 s to import

    ref, cur = _finite(reference), _finite(recent)
    if ref.size == 0 or cur.size == 0:
        return math.nan, math.nan
    result = stats.ks_2samp(ref, cur)
    return float(result.statistic), float(result.pvalue)


def status(value: float, p_value: float, settings: DriftSettings) -> str:
    """``alert`` (PSI over the alert threshold and the test rejects), ``warn`` or ``ok``."""
    if math.isnan(value):
        return "n/a"
    if value >= settings.psi_alert and p_value < settings.ks_alpha:
        return "alert"
    return "warn" if value >= settings.psi_warn else "ok"


def thin(frame: pl.DataFrame, max_rows: int) -> pl.DataFrame:
    """Every k-th row so at most ``max_rows`` remain (deterministic)."""
    if frame.height <= max_rows:
        return frame
    return frame.gather_every(math.ceil(frame.height / max_rows))


def feature_drift(
    reference: pl.DataFrame,
    recent: pl.DataFrame,
    columns: list[str],
    settings: DriftSettings,
) -> pl.DataFrame:
    """``feature, psi, ks, p_value, missing_ref, missing_recent, status`` per column."""
    reference = thin(reference, settings.max_reference_rows)
    rows = []
    for c in columns:
        ref = reference[c].cast(pl.Float64).to_numpy()
        cur = recent[c].cast(pl.Float64).to_numpy()
        value = psi(ref, cur, settings.bins)
        ks, p = ks_test(ref, cur)
        rows.append(
            {
                "feature": c,
                "psi": value,
                "ks": ks,
                "p_value": p,
                "missing_ref": float(np.mean(~np.isfinite(ref))) if ref.size else math.nan,
                "missing_recent": float(np.mean(~np.isfinite(cur))) if cur.size else math.nan,
                "status": status(value, p, settings),
            }
        )
    numbers = ("psi", "ks", "p_value", "missing_ref", "missing_recent")
    schema = {"feature": pl.Utf8, **dict.fromkeys(numbers, pl.Float64), "status": pl.Utf8}
    return pl.DataFrame(rows, schema=schema)


# ----------------------------------------------------------------------------- one day
DAY_STATISTICS = ("psi", "location", "scale")
"""The statistics of one day's cross-section (module doc)."""
ALERTING = ("location", "scale")
"""The statistics that alert; the PSI, which saturates (a cross-section in one bin scores
the same whether a volatile week or a corrupted file put it there), only warns."""
DAY_COLUMNS = (
    "feature",
    "psi",
    "psi_threshold",
    "location",
    "location_threshold",
    "scale",
    "scale_threshold",
    "missing_ref",
    "missing_recent",
    "status",
)
"""Columns of :func:`day_drift`'s table."""


def _robust(x: np.ndarray) -> tuple[float, float]:
    """``(median, 1.4826 * MAD)`` of the finite values (NaN when there are none)."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    centre = float(np.median(x))
    return centre, 1.4826 * float(np.median(np.abs(x - centre)))


@dataclass(frozen=True)
class DaySummary:
    """Each date's cross-section of one column (:func:`day_summaries`), in date order."""

    dates: pl.Series
    psi: np.ndarray
    median: np.ndarray
    log_iqr: np.ndarray
    """-inf for a constant cross-section (an IQR of 0)."""
    n: np.ndarray


def day_summaries(
    frame: pl.DataFrame, column: str, edges: np.ndarray, shares: np.ndarray
) -> DaySummary:
    """Each date's finite values of ``column``: its PSI against the pooled reference's
    ``edges`` and bin ``shares`` (the formula of :func:`psi`), median, log interquartile range
    and count."""
    rows = (
        frame.select("date", pl.col(column).cast(pl.Float64))
        .filter(pl.col(column).is_finite())
        .sort("date")
        .with_columns((pl.col("date").rank("dense").cast(pl.Int64) - 1).alias("_day"))
    )
    q75 = pl.col(column).quantile(0.75, "linear")
    per_day = (
        rows.group_by("_day")
        .agg(
            pl.col("date").first(),
            pl.col(column).median().alias("median"),
            (q75 - pl.col(column).quantile(0.25, "linear")).alias("iqr"),
            pl.len().alias("n"),
        )
        .sort("_day")
    )
    n_days, n_bins = per_day.height, edges.size + 1
    cells = rows["_day"].to_numpy() * n_bins + np.searchsorted(
        edges, rows[column].to_numpy(), side="left"
    )
    counts = np.bincount(cells, minlength=n_days * n_bins).reshape(n_days, n_bins)
    c = np.maximum(counts / np.maximum(counts.sum(axis=1, keepdims=True), 1), PSI_FLOOR)
    r = np.maximum(shares, PSI_FLOOR)
    with np.errstate(divide="ignore"):
        log_iqr = np.log(per_day["iqr"].to_numpy())
    return DaySummary(
        per_day["date"],
        np.sum((c - r) * np.log(c / r), axis=1),
        per_day["median"].to_numpy(),
        log_iqr,
        per_day["n"].to_numpy(),
    )


@dataclass(frozen=True)
class FeatureReference:
    """One feature's reference for :func:`day_drift`: the pooled bins, the centre and
    spread of the daily ``location`` and ``scale``, and each statistic of
    :data:`DAY_STATISTICS` on every reference day."""

    feature: str
    edges: np.ndarray
    shares: np.ndarray
    centres: dict[str, float]
    spreads: dict[str, float]
    days: dict[str, np.ndarray]
    missing: float

    def statistics(self, summary: DaySummary) -> dict[str, np.ndarray]:
        """The three statistics of each day of ``summary``."""
        out = {"psi": summary.psi}
        for name, values in (("location", summary.median), ("scale", summary.log_iqr)):
            out[name] = _deviation(values, self.centres[name], self.spreads[name])
        return out

    def thresholds(self, quantile: float, settings: DriftSettings, alert: bool) -> dict[str, float]:
        """Each statistic's threshold: its ``quantile`` on the reference days, floored."""
        out = {}
        for name in DAY_STATISTICS:
            values = self.days[name]
            values = values[~np.isnan(values)]
            level = float(np.quantile(values, quantile, method="higher")) if values.size else 0.0
            floor = (settings.psi_alert if alert else settings.psi_warn) if name == "psi" else (
                settings.z_floor
            )  # fmt: skip
            out[name] = max(level, floor)
        return out


def _deviation(values: np.ndarray, centre: float, spread: float) -> np.ndarray:
    """``|values - centre| / spread``; 0 where equal (also for infinities), inf for a
    deviation over a zero spread."""
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.abs(values - centre)
        out = dev / spread if spread > 0 else np.full(dev.shape, np.inf)
    return np.where(dev == 0, 0.0, out)


def feature_reference(
    reference: pl.DataFrame, column: str, settings: DriftSettings
) -> FeatureReference:
    """The :class:`FeatureReference` of ``column`` on the ``date``-keyed frame ``reference``."""
    pooled = thin(reference.select(column), settings.max_reference_rows)[column]
    pooled = _finite(pooled.cast(pl.Float64).to_numpy())
    edges = psi_edges(pooled, settings.bins)
    shares = bin_shares(pooled, edges)
    summary = day_summaries(reference, column, edges, shares)
    count = float(np.median(summary.n)) if summary.n.size else 0.0
    iqr = float(np.subtract(*np.quantile(pooled, [0.75, 0.25]))) if pooled.size else 0.0
    floors = {  # the sampling noise of a day's median and log IQR with `count` values
        "location": 1.2533 * (iqr / 1.349) / math.sqrt(count) if count else 0.0,
        "scale": 1 / math.sqrt(count) if count else 0.0,
    }
    centres, spreads = {}, {}
    for name, values in (("location", summary.median), ("scale", summary.log_iqr)):
        centre, spread = _robust(values)
        centres[name] = centre
        spreads[name] = max(spread, floors[name]) if not math.isnan(spread) else floors[name]
    ref = FeatureReference(column, edges, shares, centres, spreads, {}, _missing(reference[column]))
    ref.days.update(ref.statistics(summary))
    return ref


def _missing(values: pl.Series) -> float:
    x = values.cast(pl.Float64).to_numpy()
    return float(np.mean(~np.isfinite(x))) if x.size else math.nan


def day_drift(
    reference: pl.DataFrame,
    today: pl.DataFrame,
    columns: list[str],
    settings: DriftSettings,
    references: dict[str, FeatureReference] | None = None,
) -> pl.DataFrame:
    """:data:`DAY_COLUMNS`, one row per column: one day's cross-section ``today`` against the
    reference days of ``reference`` (module doc). ``references``: the columns' references
    when already built (:func:`day_references`), e.g. to judge many days."""
    refs = references if references is not None else day_references(reference, columns, settings)
    m = max(len(ALERTING) * len(columns), 1)
    rows = []
    for c in columns:
        ref = refs[c]
        summary = day_summaries(today, c, ref.edges, ref.shares)
        row: dict[str, object] = {"feature": c}
        if summary.psi.size == 0:
            row.update(dict.fromkeys(DAY_COLUMNS[1:-3], math.nan), status="n/a")
        else:
            stats = {k: float(v[-1]) for k, v in ref.statistics(summary).items()}
            alert = ref.thresholds(1 - settings.alpha / m, settings, alert=True)
            warn = ref.thresholds(settings.warn_quantile, settings, alert=False)
            for name in DAY_STATISTICS:
                row[name] = stats[name]
                row[f"{name}_threshold"] = alert[name] if name in ALERTING else warn[name]
            if any(stats[k] > alert[k] for k in ALERTING):
                row["status"] = "alert"
            elif any(stats[k] > warn[k] for k in DAY_STATISTICS):
                row["status"] = "warn"
            else:
                row["status"] = "ok"
        row["missing_ref"] = ref.missing
        row["missing_recent"] = _missing(today[c]) if today.height else math.nan
        rows.append(row)
    numbers = [c for c in DAY_COLUMNS if c not in ("feature", "status")]
    schema = {"feature": pl.Utf8, **dict.fromkeys(numbers, pl.Float64), "status": pl.Utf8}
    return pl.DataFrame(rows, schema=schema).select(DAY_COLUMNS)


def day_references(
    reference: pl.DataFrame, columns: list[str], settings: DriftSettings
) -> dict[str, FeatureReference]:
    """Each column's :class:`FeatureReference` on the ``date``-keyed frame ``reference``."""
    return {c: feature_reference(reference, c, settings) for c in columns}


def drift_alert(table: pl.DataFrame, settings: DriftSettings) -> bool:
    """Whether :func:`day_drift`'s day drifted: a feature alerts, or at least ``min_share``
    of the features judged warn or alert."""
    judged = table.filter(pl.col("status") != "n/a")
    if judged.height == 0:
        return False
    flagged = judged.filter(pl.col("status").is_in(["warn", "alert"])).height
    alerts = judged.filter(pl.col("status") == "alert").height
    return alerts > 0 or flagged >= settings.min_share * judged.height
