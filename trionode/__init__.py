"""trionode: a peer node for a Chia-style proof-of-space-and-time blockchain, on trio."""

__version__ = "0.1.0"
