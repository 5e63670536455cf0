"""vbench's version: the installed distribution's, or the source tree's when not installed."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"
