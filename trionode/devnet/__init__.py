"""``python -m trionode devnet``: a whole local network of separate processes that makes blocks."""
