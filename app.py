"""Streamlit entry point: ``streamlit run app.py`` (or ``calibrate serve``)."""

from calibrate.dashboard import run

run()
