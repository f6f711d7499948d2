"""Reports of the results: plain-text tables for the terminal (more formats to come)."""
