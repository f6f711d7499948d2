"""The Streamlit dashboard: a router (:func:`run`) over thin pages that call the library."""

from __future__ import annotations

import streamlit as st

from calibrate.dashboard import agreement, overview, raters, reliability, rules


def run() -> None:
    """Build the navigation and run the selected page."""
    st.set_page_config(page_title="calibrate", layout="wide")
    page = st.navigation(
        [
            st.Page(overview.render, title="Overview", url_path="overview", default=True),
            st.Page(agreement.render, title="Agreement", url_path="agreement"),
            st.Page(raters.render, title="Rater effects", url_path="raters"),
            st.Page(reliability.render, title="Reliability (G study)", url_path="reliability"),
            st.Page(rules.render, title="Programme rules", url_path="rules"),
        ]
    )
    page.run()
