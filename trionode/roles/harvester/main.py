"""Start-up of the harvester: plots, the link to its farmer, the plot directory watcher."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import attrs
import trio

from trionode import runfiles
from trionode.config import HarvesterSettings
from trionode.consensus import get_constants
from trionode.nursery import Supervisor
from trionode.nursery.offload import run_blocking
from trionode.peers.errors import ConnectionClosedError
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.plotting.manager import PlotManager, RefreshResult
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.farm_limits import farm_link_limits
from trionode.roles.harvester.api import HarvesterAPI
from trionode.roles.harvester.api_v1 import HarvesterV1API
from trionode.roles.harvester.rpc import start_harvester_surface
from trionode.roles.runtime import write_ready
from trionode.roles.supervision import role_supervisor
from trionode.roles.upstream import keep_connected
from trionode.service import ServiceSettings

logger = logging.getLogger(__name__)

HARVESTER_PROTOCOLS = ("v1", "v2")


_DEFAULTS = HarvesterSettings()  # config.yaml's harvester: defaults (trionode.config)


@attrs.frozen
class HarvesterConfig(ServiceSettings):
    """The shell (root, network, ports, limits) and the harvester's own keys."""

    farmer: tuple[str, int]
    plot_dirs: tuple[Path, ...]
    refresh_interval: float = _DEFAULTS.refresh_interval
    # Which harvester protocol this harvester speaks (config harvester.protocol): "v2" (seed
    # 001) or "v1" (the legacy protocol of seeds 000/003). One farmer farms with both.
    protocol: str = attrs.field(default=_DEFAULTS.protocol)

    @protocol.validator
    def _check_protocol(self, attribute: object, value: str) -> None:
        if value not in HARVESTER_PROTOCOLS:
            raise ValueError(
                f"harvester protocol must be one of {HARVESTER_PROTOCOLS}, not {value!r}"
            )


class Harvester:
    def __init__(self, config: HarvesterConfig) -> None:
        self.config = config
        # The supervisor of the role's own loops and operator surface, while it runs.
        self.loops: Supervisor | None = None
        self.constants = get_constants(config.network)
        self.plots = PlotManager(config.plot_dirs)
        self.api: HarvesterAPI | HarvesterV1API = (
            HarvesterV1API(self.constants, self.plots)
            if config.protocol == "v1"
            else HarvesterAPI(self.constants, self.plots)
        )
        identity = NodeIdentity.private(config.root, "harvester")
        limits = farm_link_limits(config.limits)
        self.node = PeerNode(
            PeerNodeConfig(
                network_id=self.constants.genesis_challenge,
                node_type=NodeType.HARVESTER,
                host=config.host,
                port=config.port,
                limits=limits,
                accepted_node_types=frozenset({NodeType.FARMER}),
            ),
            make_websocket_transport(identity, limits),
            self.api,
        )

    async def run(
        self, *, task_status: trio.TaskStatus[Harvester] = trio.TASK_STATUS_IGNORED
    ) -> None:
        runfiles.clear(self.config.root, "harvester")
        async with trio.open_nursery() as nursery:
            await nursery.start(self.node.run)
            async with role_supervisor("harvester", until=self.node.stopped) as loops:
                self.loops = loops
                await loops.start_child("plot-watch", self._watch_plots)
                logger.info(
                    "plots: %d loaded, %d failed to open, in %s",
                    len(self.plots.plots),
                    len(self.plots.failed_to_open_filenames),
                    ", ".join(map(str, self.config.plot_dirs)),
                )
                host, port = self.config.farmer
                await loops.start_child(
                    "farmer-link",
                    functools.partial(keep_connected, what="farmer"),
                    self.node,
                    host,
                    port,
                )
                assert self.node.port is not None
                surface = await start_harvester_surface(self, loops)
                write_ready(self.config.root, "harvester", self.node.port, **surface)
                task_status.started(self)

    async def _watch_plots(self, *, task_status: trio.TaskStatus[RefreshResult]) -> None:
        """Rescan the plot directories every ``refresh_interval`` s; tell the farmer of changes
        (seed 001: respond_plots "is also sent whenever a new plot is loaded")."""
        result = await run_blocking(self.plots.refresh)
        task_status.started(result)
        while True:
            await trio.sleep(self.config.refresh_interval)
            result = await run_blocking(self.plots.refresh)
            if not result.changed:
                continue
            logger.info("plot directory changed: %s", result)
            for conn in self.node.get_connections(NodeType.FARMER):
                with trio.move_on_after(10):
                    try:
                        await conn.send(self.plots.respond_plots())
                    except ConnectionClosedError:
                        pass  # the redial loop takes care of the farmer link
