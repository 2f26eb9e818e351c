"""Streamlit-side helpers of the Alpha Lab dashboard (state, background jobs, form, charts).

Maths lives in ``alpha_core``; these modules only arrange it on the page.
"""
