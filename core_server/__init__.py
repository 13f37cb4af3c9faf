"""cocreate: a local daemon for AI co-creation inside the tools artists already use."""

__version__ = "0.1.0"
