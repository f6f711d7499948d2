"""Streamlit entry point for ``calibrate serve``; the repository's app.py is the same router."""

from calibrate.dashboard import run

run()
