"""git-ml: turn the work in a git repository into a machine-learning dataset."""

__version__ = "0.1.0"
