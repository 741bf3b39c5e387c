"""``trionode init``: creates the private CA, certificates and config, idempotently."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trio
import yaml

from trionode.init_root import init_command, init_root, load_config
from trionode.peers.errors import DialError
from trionode.peers.identity import (
    NodeIdentity,
    make_websocket_transport,
    private_ca_paths,
    role_cert_paths,
)
from trionode.peers.transport import PeerStream


def test_init_creates_everything_once(tmp_path: Path) -> None:
    created = init_root(tmp_path)
    assert private_ca_paths(tmp_path).crt in created
    for role in ("full_node", "farmer", "harvester", "timelord", "introducer"):
        for which in ("public", "private"):
            paths = role_cert_paths(tmp_path, role, which)
            assert paths.exist()
            assert paths.key.stat().st_mode & 0o077 == 0  # keys are private
    config = load_config(tmp_path)
    assert config["full_node"]["port"] == 8444 and config["introducer"]["port"] == 8445
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert init_root(tmp_path) == []
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_init_keeps_an_edited_config_and_fills_missing_files(tmp_path: Path) -> None:
    init_root(tmp_path)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"network": "sim"}))
    role_cert_paths(tmp_path, "farmer", "private").crt.unlink()
    role_cert_paths(tmp_path, "farmer", "private").key.unlink()
    created = init_root(tmp_path)
    assert set(created) == {
        role_cert_paths(tmp_path, "farmer", "private").crt,
        role_cert_paths(tmp_path, "farmer", "private").key,
    }
    assert load_config(tmp_path) == {"network": "sim"}


def test_half_a_key_pair_is_an_error(tmp_path: Path) -> None:
    init_root(tmp_path)
    private_ca_paths(tmp_path).key.unlink()
    with pytest.raises(FileExistsError, match="half a CA"):
        init_root(tmp_path)


def test_private_ca_signs_client_certificates(tmp_path: Path) -> None:
    init_root(tmp_path)
    farmer = NodeIdentity.private(tmp_path, "farmer")
    harvester = NodeIdentity.private(tmp_path, "harvester")
    assert farmer.server_context().verify_mode == ssl.CERT_REQUIRED
    assert harvester.client_context().verify_mode == ssl.CERT_REQUIRED
    # A public-network certificate is not signed by the private CA.
    public = NodeIdentity.public(tmp_path, "harvester")
    assert public.node_id != harvester.node_id


def test_init_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert init_command(tmp_path / "root") == 0
    assert "created" in capsys.readouterr().out
    assert init_command(tmp_path / "root") == 0
    assert "nothing to do" in capsys.readouterr().out


async def test_private_ca_link_refuses_public_certificates(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    """The harvester-farmer link: only certificates of the root's private CA get through."""
    init_root(tmp_path)
    farmer = make_websocket_transport(NodeIdentity.private(tmp_path, "farmer"))
    owner_harvester = make_websocket_transport(NodeIdentity.private(tmp_path, "harvester"))
    stranger = make_websocket_transport(NodeIdentity.public(tmp_path / "other", "harvester"))

    async def handler(stream: PeerStream) -> None:
        await stream.send(b"hello")

    port = await nursery.start(
        lambda task_status: farmer.serve(handler, "127.0.0.1", 0, task_status=task_status)
    )
    with trio.fail_after(10):
        async with owner_harvester.connect("127.0.0.1", port) as stream:
            assert await stream.receive() == b"hello"
        with pytest.raises(DialError):
            async with stranger.connect("127.0.0.1", port):
                pass  # pragma: no cover
    nursery.cancel_scope.cancel()
