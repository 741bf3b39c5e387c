"""The node roles. Each has the same shape (STYLE.md 4): state in ``node.py``, one handler per
incoming message in ``api.py``, start-up in ``main.py``."""
