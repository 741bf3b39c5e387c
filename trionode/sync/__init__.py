"""trionode.sync: block intake and catching up with peers (PROTOCOL.md section 4).

- :class:`BlockIntake`: every block the node is given, from a peer or a sync, goes through it
  to the Blockchain (seen / parent known / near / far / orphan decisions); it reports blocks
  added to a tip to the role on a bounded channel and runs the sync loop.
- :class:`SyncManager` (long sync): follows the heaviest tip peers advertise once it is more
  than ``SYNC_THRESHOLD`` heights above ours: hash list, fork point by binary search, headers
  then bodies in batches from several peers at once, committed in order.
- :func:`fetch_missing_parents` (short sync): a disconnected block's parents, one RequestBlock
  at a time.
"""

from trionode.sync.adverts import Advert, AdvertBook
from trionode.sync.errors import InconsistentPeer, InvalidChain, NoSyncPeers
from trionode.sync.hashes import check_hash_list, find_fork_point
from trionode.sync.intake import REPORT_BUFFER, BlockAdded, BlockIntake, InvalidBlockFromPeer
from trionode.sync.long_sync import SyncConfig, SyncManager, SyncStats
from trionode.sync.pools import IntakeLimits, OrphanPool, SeenCache
from trionode.sync.progress import SyncProgress
from trionode.sync.short_sync import TooFarBehind, fetch_missing_parents

__all__ = [
    "REPORT_BUFFER",
    "Advert",
    "AdvertBook",
    "BlockAdded",
    "BlockIntake",
    "InconsistentPeer",
    "IntakeLimits",
    "InvalidBlockFromPeer",
    "InvalidChain",
    "NoSyncPeers",
    "OrphanPool",
    "SeenCache",
    "SyncConfig",
    "SyncManager",
    "SyncProgress",
    "SyncStats",
    "TooFarBehind",
    "check_hash_list",
    "fetch_missing_parents",
    "find_fork_point",
]
