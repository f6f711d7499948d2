"""Stored text on the pages: shown as the characters it holds, never as Markdown.

Rubric titles, competencies, criterion titles, descriptors, level labels, user names, and the
messages that quote them come from files and forms, not from us. Streamlit renders Markdown
(links, and images it fetches) in ``st.markdown``, ``st.write``, ``st.caption``, titles,
alerts, widget labels, expander labels and ``st.table`` cells, so stored text goes either to
elements that show text as is (``st.text``, ``st.code``, ``st.dataframe`` cells, select-box
options) or through :func:`escape` first.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from typing import Any

import streamlit as st

_PUNCTUATION = frozenset(string.punctuation)  # the ASCII punctuation characters
WORD_JOINER = "\u2060"
"""An invisible character that breaks GitHub's autolinks (``http://``, ``www.``, ``a@b.c``)."""
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)


def escape(text: object) -> str:
    r"""``text`` shown literally by Markdown: every ASCII punctuation character backslash-escaped
    (CommonMark 0.31.2, §2.4: "Any ASCII punctuation character may be backslash-escaped"), line
    breaks as spaces (a label is one line), and a word joiner (U+2060, invisible) after
    ``://``'s colon, ``www`` and ``@``, since GitHub-flavoured Markdown turns such text into
    links after the escapes are resolved (the autolink extension of GFM 0.29, §6.9).

    >>> escape("![x](http://h/p.png) <b>")
    '\\!\\[x\\]\\(http\\:\u2060\\/\\/h\\/p\\.png\\) \\<b\\>'
    """
    joined = _AUTOLINK.sub(WORD_JOINER, str(text))
    out = []
    for ch in joined:
        if ch in _PUNCTUATION:
            out.append("\\" + ch)
        elif ch in "\r\n\t":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def error(message: object) -> None:
    """An error box with a one-line message that may quote stored text."""
    st.error(escape(message), icon=":material/error:")


def warning(message: object) -> None:
    """A warning box with a message that may quote stored text."""
    st.warning(escape(message))


def table(columns: dict[str, Iterable[Any]]) -> None:
    """``st.table`` (wraps long text: nothing cut off) with every header and cell escaped, since
    ``st.table`` renders Markdown in them."""
    import pandas as pd

    frame = pd.DataFrame({escape(k): [escape(v) for v in values] for k, values in columns.items()})
    st.table(frame, hide_index=True)


__all__ = ["error", "escape", "table", "warning"]
