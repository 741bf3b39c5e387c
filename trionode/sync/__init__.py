"""trionode.sync: catching up with peers (PROTOCOL.md section 4).

- :class:`SyncManager` (long sync): a supervised loop that follows the heaviest tip peers
  advertise once it is more than ``SYNC_THRESHOLD`` heights above ours: hash list, fork point by
  binary search, headers then bodies in batches from several peers at once, committed in order.
- :func:`fetch_missing_parents` (short sync): a disconnected block's parents, one RequestBlock
  at a time.
"""

from trionode.sync.errors import InconsistentPeer, InvalidChain, NoSyncPeers
from trionode.sync.hashes import check_hash_list, find_fork_point
from trionode.sync.long_sync import SyncConfig, SyncManager, SyncStats
from trionode.sync.progress import SyncProgress
from trionode.sync.short_sync import TooFarBehind, fetch_missing_parents

__all__ = [
    "InconsistentPeer",
    "InvalidChain",
    "NoSyncPeers",
    "SyncConfig",
    "SyncManager",
    "SyncProgress",
    "SyncStats",
    "TooFarBehind",
    "check_hash_list",
    "fetch_missing_parents",
    "find_fork_point",
]
