"""Alpha Lab engine: panel -> features -> model -> predictions -> books -> backtest -> report.

Pure Python, no Streamlit. Every run is described by one :class:`alpha_core.config.RunConfig`
and goes through one run service (:mod:`alpha_core.runs.service`).
"""

import os

# OpenMP threads that spin while waiting collapse when the cores are shared (another
# process, the app, a second run): measured 9-30x slower LightGBM training on a loaded
# 2-core machine (docs/performance.md). Passive waiting changes no result. It must be set
# before LightGBM loads libgomp, so the engine sets it here, on its first import; an
# explicit setting by the user wins. This is the one place it is set.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
