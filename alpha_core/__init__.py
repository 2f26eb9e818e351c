"""Alpha Lab engine: panel -> features -> model -> predictions -> books -> backtest -> report.

Pure Python, no Streamlit. Every run is described by one :class:`alpha_core.config.RunConfig`.
"""

__version__ = "0.1.0"
