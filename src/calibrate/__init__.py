"""calibrate: trustworthy scoring of educator micro-credentials."""

__version__ = "0.1.0"
