"""Exact path-dependent TreeSHAP for LightGBM models, O(trees x leaves x depth) per row.

LightGBM's ``pred_contrib`` runs the original TreeSHAP algorithm, O(T L D^2) per row: about
26 s of CPU for the demo's test window (10.8k rows, 500 trees of 50 leaves). This module
computes the *same values* (to 1e-17) in about 1.5 s of CPU plus 0.7-0.9 s to flatten the
model once (``bench/bench_explain.py``), with the "Fast TreeSHAP v2" idea (Yang 2021,
arXiv:2109.09847):

For one leaf with value ``v`` and the distinct features ``P`` on its path, the path-dependent
game is ``f(S) = v * prod_{j in P & S} o_j * prod_{j in P - S} z_j``, where ``z_j`` is the
product of the cover fractions of ``j``'s splits on the path and ``o_j`` (0 or 1) says whether
the row satisfies all of ``j``'s conditions. Its Shapley value for ``i in P`` is

    phi_i = v * (o_i - z_i) * sum_k  k! (m-1-k)! / m!  *  [t^k] prod_{j in P, j != i} (z_j + o_j t)

(features off the path are dummies). It depends on the row only through the bit pattern
``o`` (at most ``2^D`` values), so each leaf's ``2^m x m`` table is precomputed once per model;
a row then costs one pattern lookup per leaf. The expected value is ``sum_l v_l n_l / n_root``.

The kernel works on chunks of 256 rows: for each tree it first evaluates every split for the
chunk (one 64-bit mask of decisions per row, so a tree may have at most 64 splits), then,
leaf by leaf, each row's pattern (``(mask ^ want) & nodes == 0`` per path feature) and the
table rows, accumulated feature-major so the inner loops run over contiguous memory.

Exactness against ``booster.predict(pred_contrib=True)`` and ``shap.TreeExplainer`` is tested
in ``tests/test_explain.py``. Models with paths longer than :data:`MAX_PATH_FEATURES` distinct
features (unbounded depth) fall back to LightGBM's own routine (:func:`supported`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

try:  # numba ships with shap; without it the caller falls back to LightGBM's routine
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    numba = None
    HAVE_NUMBA = False

MAX_PATH_FEATURES = 12
"""Largest number of distinct features on one root-to-leaf path handled here (table 2^m x m)."""

_MISSING = {"None": 0, "Zero": 1, "NaN": 2}

_KERNEL_LOCK = threading.RLock()
"""Serialises calls into the parallel kernels: numba's workqueue threading layer (the fallback
when neither OpenMP nor TBB is available) must not be entered from two threads at once, and
the app calls from background training threads and page scripts."""


@dataclass
class Compiled:
    """A model flattened into arrays for the row kernel (see module doc)."""

    n_features: int
    expected_value: float
    # internal nodes (global index), per tree offsets
    tree_node_start: np.ndarray
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_is_cat: np.ndarray
    node_default_left: np.ndarray
    node_missing: np.ndarray
    node_cat_start: np.ndarray
    node_cat_len: np.ndarray
    cats: np.ndarray
    # leaves, per tree offsets
    tree_leaf_start: np.ndarray
    leaf_m: np.ndarray
    leaf_feat: np.ndarray  # (L, MAX) global feature index per position
    leaf_node_mask: np.ndarray  # (L, MAX) uint64: the tree's nodes splitting on that feature
    leaf_node_want: np.ndarray  # (L, MAX) uint64: 1 where the path goes left at that node
    leaf_table_start: np.ndarray
    table: np.ndarray
    max_path: int


def _walk(tree: dict, n_features: int):
    """Internal nodes (dicts), and for each leaf: value, count, path [(node idx, went_left)]."""
    nodes: list[dict] = []
    leaves: list[tuple[float, float, list[tuple[int, bool, float]]]] = []

    def rec(node: dict, path: list[tuple[int, bool, float]]) -> None:
        if "leaf_value" in node or "split_feature" not in node:
            leaves.append(
                (float(node.get("leaf_value", 0.0)), float(node.get("leaf_count", 0)), path)
            )
            return
        idx = len(nodes)
        nodes.append(node)
        parent = float(node["internal_count"])
        for side, went_left in (("left_child", True), ("right_child", False)):
            child = node[side]
            count = float(child.get("internal_count", child.get("leaf_count", 0)))
            frac = count / parent if parent > 0 else 0.0
            rec(child, [*path, (idx, went_left, frac)])

    rec(tree, [])
    return nodes, leaves


def _tables(leaf_m, leaf_z, leaf_v, leaf_table_start, weights, table):  # pragma: no cover
    """Fill every leaf's ``2^m x m`` table (row = pattern, bit p of pattern = o_p)."""
    n_leaves = leaf_m.shape[0]
    width = leaf_z.shape[1]
    for leaf in numba.prange(n_leaves):
        m = leaf_m[leaf]
        if m == 0:
            continue
        v = leaf_v[leaf]
        poly = np.empty(width + 1)
        for pattern in range(1 << m):
            for i in range(m):
                poly[0] = 1.0
                for k in range(1, m):
                    poly[k] = 0.0
                deg = 0
                for j in range(m):
                    if j == i:
                        continue
                    oj = float((pattern >> j) & 1)
                    zj = leaf_z[leaf, j]
                    for k in range(deg + 1, 0, -1):
                        poly[k] = poly[k] * zj + poly[k - 1] * oj
                    poly[0] = poly[0] * zj
                    deg += 1
                acc = 0.0
                for k in range(m):
                    acc += weights[m, k] * poly[k]
                oi = float((pattern >> i) & 1)
                table[leaf_table_start[leaf] + pattern * m + i] = v * (oi - leaf_z[leaf, i]) * acc


def compile_model(booster, n_features: int) -> Compiled | None:
    """Flatten a LightGBM booster; None if a path has more than MAX_PATH_FEATURES features."""
    dump = booster.dump_model(num_iteration=booster.best_iteration or None)
    if dump.get("num_tree_per_iteration", 1) != 1:
        return None
    node_rows: list[tuple] = []
    cats: list[int] = []
    tree_node_start = [0]
    tree_leaf_start = [0]
    leaf_m: list[int] = []
    leaf_feat: list[list[int]] = []
    leaf_z: list[list[float]] = []
    leaf_mask: list[list[int]] = []
    leaf_want: list[list[int]] = []
    leaf_v: list[float] = []
    leaf_table_start = [0]
    expected = 0.0
    max_path = 0
    for info in dump["tree_info"]:
        nodes, leaves = _walk(info["tree_structure"], n_features)
        for node in nodes:
            is_cat = node["decision_type"] == "=="
            cat_start = len(cats)
            if is_cat:
                cats.extend(int(c) for c in str(node["threshold"]).split("||"))
                threshold = 0.0
            else:
                threshold = float(node["threshold"])
            node_rows.append(
                (
                    int(node["split_feature"]),
                    threshold,
                    is_cat,
                    bool(node["default_left"]),
                    _MISSING.get(node.get("missing_type", "None"), 0),
                    cat_start,
                    len(cats) - cat_start,
                )
            )
        root_count = sum(c for _, c, _ in leaves)
        for value, count, path in leaves:
            if root_count > 0:
                expected += value * count / root_count
            feats: list[int] = []
            z: list[float] = []
            masks: list[int] = []
            wants: list[int] = []
            for idx, went_left, frac in path:
                f = nodes[idx]["split_feature"]
                if f not in feats:
                    feats.append(f)
                    z.append(1.0)
                    masks.append(0)
                    wants.append(0)
                pos = feats.index(f)
                z[pos] *= frac
                masks[pos] |= 1 << idx
                wants[pos] |= int(went_left) << idx
            if len(nodes) > 64:
                return None  # the bitmask kernel holds one tree's decisions in 64 bits
            leaf_mask.append(masks)
            leaf_want.append(wants)
            m = len(feats)
            if m > MAX_PATH_FEATURES:
                return None
            max_path = max(max_path, m)
            leaf_m.append(m)
            leaf_feat.append(feats)
            leaf_z.append(z)
            leaf_v.append(value)
            leaf_table_start.append(leaf_table_start[-1] + (m << m))
        tree_node_start.append(len(node_rows))
        tree_leaf_start.append(len(leaf_m))
    width = max(1, max_path)
    feat_arr = np.zeros((len(leaf_m), width), dtype=np.int64)
    z_arr = np.ones((len(leaf_m), width))
    mask_arr = np.zeros((len(leaf_m), width), dtype=np.uint64)
    want_arr = np.zeros((len(leaf_m), width), dtype=np.uint64)
    for k, feats in enumerate(leaf_feat):
        feat_arr[k, : len(feats)] = feats
        z_arr[k, : len(feats)] = leaf_z[k]
        mask_arr[k, : len(feats)] = leaf_mask[k]
        want_arr[k, : len(feats)] = leaf_want[k]
    table = np.zeros(leaf_table_start[-1])
    weights = np.zeros((width + 1, width))
    for m in range(1, width + 1):
        for k in range(m):
            weights[m, k] = math.factorial(k) * math.factorial(m - 1 - k) / math.factorial(m)
    with _KERNEL_LOCK:
        _get_tables_kernel()(
            np.array(leaf_m, dtype=np.int64),
            z_arr,
            np.array(leaf_v, dtype=np.float64),
            np.array(leaf_table_start, dtype=np.int64),
            weights,
            table,
        )
    cols = list(zip(*node_rows, strict=True)) if node_rows else [[]] * 7
    return Compiled(
        n_features=n_features,
        expected_value=expected,
        tree_node_start=np.array(tree_node_start, dtype=np.int64),
        node_feature=np.array(cols[0], dtype=np.int64),
        node_threshold=np.array(cols[1], dtype=np.float64),
        node_is_cat=np.array(cols[2], dtype=np.bool_),
        node_default_left=np.array(cols[3], dtype=np.bool_),
        node_missing=np.array(cols[4], dtype=np.int64),
        node_cat_start=np.array(cols[5], dtype=np.int64),
        node_cat_len=np.array(cols[6], dtype=np.int64),
        cats=np.array(cats, dtype=np.int64),
        tree_leaf_start=np.array(tree_leaf_start, dtype=np.int64),
        leaf_m=np.array(leaf_m, dtype=np.int64),
        leaf_feat=feat_arr,
        leaf_node_mask=mask_arr,
        leaf_node_want=want_arr,
        leaf_table_start=np.array(leaf_table_start, dtype=np.int64),
        table=table,
        max_path=max_path,
    )


def _kernel(
    xt,
    tree_node_start,
    node_feature,
    node_threshold,
    node_is_cat,
    node_default_left,
    node_missing,
    node_cat_start,
    node_cat_len,
    cats,
    tree_leaf_start,
    leaf_m,
    leaf_feat,
    leaf_node_mask,
    leaf_node_want,
    leaf_table_start,
    table,
    out,
):  # pragma: no cover - compiled by numba
    # Rows in chunks, trees outer within a chunk: one tree's tables stay in cache while the
    # chunk's rows are looked up in them.
    n_rows = xt.shape[1]
    n_out = out.shape[1]
    n_trees = tree_node_start.shape[0] - 1
    chunk = 256
    n_chunks = (n_rows + chunk - 1) // chunk
    for ch in numba.prange(n_chunks):
        r0 = ch * chunk
        r1 = min(n_rows, r0 + chunk)
        dm = np.zeros(r1 - r0, dtype=np.uint64)
        pat = np.zeros(r1 - r0, dtype=np.int64)
        acc = np.zeros((n_out, r1 - r0))
        for t in range(n_trees):
            n0 = tree_node_start[t]
            n_nodes = tree_node_start[t + 1] - n0
            dm[:] = 0
            # 1) decisions, node by node over the chunk's rows (contiguous in xt)
            for k in range(n_nodes):
                g = n0 + k
                f = node_feature[g]
                bit = np.uint64(1) << np.uint64(k)
                miss = node_missing[g]
                if not node_is_cat[g] and miss == 0:
                    thr = node_threshold[g]
                    for i in range(r1 - r0):
                        v = xt[f, r0 + i]
                        if v != v:  # NaN reads as 0 when the split has no missing handling
                            v = 0.0
                        if v <= thr:
                            dm[i] |= bit
                    continue
                for i in range(r1 - r0):
                    fval = xt[f, r0 + i]
                    go = False
                    if node_is_cat[g]:
                        iv = 0
                        ok = True
                        if np.isnan(fval):
                            ok = miss != 2
                        else:
                            iv = int(fval)
                            ok = iv >= 0
                        if ok:
                            for c in range(node_cat_len[g]):
                                if cats[node_cat_start[g] + c] == iv:
                                    go = True
                                    break
                    else:
                        if np.isnan(fval) and miss != 2:
                            fval = 0.0
                        if (miss == 1 and abs(fval) <= 1e-35) or (miss == 2 and np.isnan(fval)):
                            go = node_default_left[g]
                        else:
                            go = fval <= node_threshold[g]
                    if go:
                        dm[i] |= bit
            # 2) leaf by leaf: the chunk's patterns, then table rows into the accumulator
            for leaf in range(tree_leaf_start[t], tree_leaf_start[t + 1]):
                m = leaf_m[leaf]
                if m == 0:
                    continue
                for i in range(r1 - r0):
                    pattern = 0
                    dmask = dm[i]
                    for p in range(m):
                        if ((dmask ^ leaf_node_want[leaf, p]) & leaf_node_mask[leaf, p]) == 0:
                            pattern |= 1 << p
                    pat[i] = pattern * m
                base = leaf_table_start[leaf]
                for p in range(m):
                    f = leaf_feat[leaf, p]
                    for i in range(r1 - r0):
                        acc[f, i] += table[base + pat[i] + p]
        for i in range(r1 - r0):
            for f in range(n_out):
                out[r0 + i, f] = acc[f, i]


_compiled_kernel = None
_compiled_tables = None


def _get_tables_kernel():
    global _compiled_tables
    if _compiled_tables is None:
        _compiled_tables = numba.njit(parallel=True, nogil=True)(_tables)
    return _compiled_tables


def _get_kernel():
    global _compiled_kernel
    if _compiled_kernel is None:
        _compiled_kernel = numba.njit(parallel=True, nogil=True)(_kernel)
    return _compiled_kernel


def shap_values(compiled: Compiled, x: np.ndarray) -> np.ndarray:
    """``(n, k + 1)`` contributions, last column the expected value (like pred_contrib)."""
    xt = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)  # features x rows
    out = np.zeros((xt.shape[1], compiled.n_features + 1))
    c = compiled
    with _KERNEL_LOCK:
        _get_kernel()(
            xt,
            c.tree_node_start,
            c.node_feature,
            c.node_threshold,
            c.node_is_cat,
            c.node_default_left,
            c.node_missing,
            c.node_cat_start,
            c.node_cat_len,
            c.cats,
            c.tree_leaf_start,
            c.leaf_m,
            c.leaf_feat,
            c.leaf_node_mask,
            c.leaf_node_want,
            c.leaf_table_start,
            c.table,
            out,
        )
    out[:, -1] = c.expected_value
    return out


_WARMING = threading.Event()


def warm_up_in_background() -> None:
    """Start compiling the kernels in a daemon thread, once per process (later calls: no-op).

    The app calls this when a page is first drawn, so the first SHAP computation does not
    pay numba's compile time (about 2 s).
    """
    if not HAVE_NUMBA or _WARMING.is_set():
        return
    with _KERNEL_LOCK:
        if _WARMING.is_set():
            return
        _WARMING.set()
    threading.Thread(target=warm_up, name="alpha-shap-jit", daemon=True).start()


def warm_up() -> None:
    """Compile the kernel on a tiny input (about a second, once per process)."""
    if not HAVE_NUMBA:
        return
    with _KERNEL_LOCK:
        _warm_up()


def _warm_up() -> None:
    z = np.zeros(1, dtype=np.int64)
    zb = np.zeros(1, dtype=np.bool_)
    _get_kernel()(
        np.zeros((1, 1)), np.array([0, 0]), z, np.zeros(1), zb, zb, z, z, z, z,
        np.array([0, 0]), z, np.zeros((1, 1), dtype=np.int64),
        np.zeros((1, 1), dtype=np.uint64), np.zeros((1, 1), dtype=np.uint64),
        np.array([0, 0]), np.zeros(1), np.zeros((1, 2)),
    )  # fmt: skip
    _get_tables_kernel()(
        np.array([1]), np.full((1, 1), 0.5), np.ones(1), np.array([0, 2]), np.ones((2, 1)),
        np.zeros(2),
    )  # fmt: skip
