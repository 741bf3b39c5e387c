"""Multi-node testnets of real processes: ``python -m trionode testnet`` / ``scripts/testnet.py``
and the :class:`Testnet` driver for integration tests (``node``, ``connect``, ``split``,
``join``, ``sync_all``, ``stop``)."""

from trionode.testnet.network import Testnet, TestnetError, TestnetNode

__all__ = ["Testnet", "TestnetError", "TestnetNode"]
