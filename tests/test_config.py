"""Configuration: config.yaml < TRIONODE_* environment < flags, one frozen Settings, and every bad
value rejected with a message naming its source and key (exit code 2 from a real process)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from trionode.cli import build_parser
from trionode.cli.launch import EXIT_USAGE, build_service, build_settings, run_role
from trionode.config import ConfigError, Settings, env_overrides, load_settings
from trionode.init_root import DEFAULT_CONFIG, init_root
from trionode.keys.keychain import Keychain


def write_config(root: Path, data: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(data))


def cli_args(*argv: str) -> argparse.Namespace:
    args = build_parser().parse_args(list(argv))
    args.network = getattr(args, "network", None)  # as cli.main does
    return args


def test_defaults_written_by_init_are_the_model_defaults(tmp_path: Path) -> None:
    assert Settings.model_validate(DEFAULT_CONFIG) == Settings()
    init_root(tmp_path)
    assert load_settings(tmp_path) == Settings()
    # and every key init writes is one the model knows (extra keys would fail above)
    assert set(DEFAULT_CONFIG) == set(Settings.model_fields)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(pydantic.ValidationError):
        settings.network = "sim"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        settings.full_node.port = 1  # type: ignore[misc]


def test_precedence_file_then_env_then_flag(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "network": "testnet",
            "log_format": "json",
            "full_node": {"port": 1111, "max_inbound": 5, "target_outbound": 3},
        },
    )
    env = {
        "TRIONODE_NETWORK": "devnet",
        "TRIONODE_FULL_NODE__PORT": "2222",
        "TRIONODE_FULL_NODE__MAX_INBOUND": "6",
        "TRIONODE_ROOT": "/not/configuration",  # picks the root; ignored here
        "TRIONODE_TEST_POSTGRES_URL": "postgresql://x",  # test setting; ignored
    }
    args = cli_args("--role", "full_node", "--port", "3333", "--network", "sim")
    settings = build_settings(args, tmp_path, env)
    assert settings.full_node.port == 3333  # flag over env over file
    assert settings.network == "sim"
    assert settings.full_node.max_inbound == 6  # env over file
    assert settings.full_node.target_outbound == 3  # file over default
    assert settings.log_format == "json"  # file
    assert settings.full_node.rpc_port == 8555  # default
    # without the flags, the environment wins over the file
    settings = build_settings(cli_args("--role", "full_node"), tmp_path, env)
    assert (settings.full_node.port, settings.network) == (2222, "devnet")
    # without the environment, the file
    settings = build_settings(cli_args("--role", "full_node"), tmp_path, {})
    assert (settings.full_node.port, settings.network) == (1111, "testnet")


def test_env_values_are_yaml_and_names_case_insensitive(tmp_path: Path) -> None:
    env = {
        "TRIONODE_FULL_NODE__PEERS": "[127.0.0.1:8444, 'localhost:9']",
        "trionode_full_node__introducer": "127.0.0.1:8445",
        "TRIONODE_FULL_NODE__RPC_PORT": "null",
        "TRIONODE_TIMELORD__VDF_THREADS": "true",
        "TRIONODE_LOG_LEVEL": "debug",
    }
    settings = load_settings(tmp_path, environ=env)
    assert settings.full_node.peers == (("127.0.0.1", 8444), ("localhost", 9))
    assert settings.full_node.introducer == ("127.0.0.1", 8445)
    assert settings.full_node.rpc_port is None
    assert settings.timelord.vdf_threads is True
    assert settings.log_level == "DEBUG"


def test_flags_build_the_role_config(tmp_path: Path) -> None:
    init_root(tmp_path)
    args = cli_args(
        "--role",
        "full_node",
        "--port",
        "0",
        "--rpc-port",
        "0",
        "--peer",
        "127.0.0.1:9",
        "--peer",
        "[::1]:10",
        "--introducer",
        "127.0.0.1:11",
        "--db",
        "sqlite:///x.db",
    )
    service = build_service(build_settings(args, tmp_path, {}), "full_node", tmp_path)
    cfg = service.config
    assert cfg.port == 0 and cfg.network == "devnet" and cfg.root == tmp_path
    assert cfg.peers == (("127.0.0.1", 9), ("::1", 10))
    assert cfg.introducer == ("127.0.0.1", 11)
    assert cfg.db == "sqlite:///x.db"
    assert (cfg.rpc_port, cfg.rpc_tls_port, cfg.metrics_port) == (0, 0, None)
    assert cfg.exempt_loopback_from_bans is False
    env = {"TRIONODE_PEERS__EXEMPT_LOOPBACK_FROM_BANS": "true"}
    service = build_service(build_settings(args, tmp_path, env), "full_node", tmp_path)
    assert service.config.exempt_loopback_from_bans is True

    args = cli_args(
        "--role", "timelord", "--full-node", "127.0.0.1:5", "--workers", "3", "--metrics-port", "0"
    )
    args.vdf_threads = True
    tl = build_service(build_settings(args, tmp_path, {}), "timelord", tmp_path).config
    assert (tl.rpc_port, tl.metrics_port) == (8557, 0)
    assert (tl.full_node, tl.workers, tl.use_processes, tl.port) == (
        ("127.0.0.1", 5),
        3,
        False,
        8446,
    )


def test_harvester_plot_dirs_relative_to_root_in_config(tmp_path: Path) -> None:
    write_config(
        tmp_path, {"harvester": {"farmer": "127.0.0.1:8447", "plot_dirs": ["plots", "/abs"]}}
    )
    init_root(tmp_path)
    args = cli_args("--role", "harvester")
    hv = build_service(build_settings(args, tmp_path, {}), "harvester", tmp_path).config
    assert hv.plot_dirs == (tmp_path / "plots", Path("/abs"))
    assert hv.farmer == ("127.0.0.1", 8447)
    assert hv.rpc_port == 8560 and hv.refresh_interval == 10.0

    Keychain(tmp_path).generate()  # the farmer loads its keys when built
    fa = build_service(
        build_settings(cli_args("--role", "farmer", "--full-node", "127.0.0.1:1"), tmp_path, {}),
        "farmer",
        tmp_path,
    ).config
    assert (fa.full_node, fa.port, fa.rpc_port) == (("127.0.0.1", 1), 8447, 8559)
    intro = build_service(
        build_settings(cli_args("--role", "introducer", "--rpc-port", "0"), tmp_path, {}),
        "introducer",
        tmp_path,
    )
    assert intro.config.rpc_port == 0


BAD_FILE_VALUES = [
    ({"full_node": {"port": "abc"}}, "full_node.port: must be a port number (0-65535), got 'abc'"),
    ({"full_node": {"port": 70000}}, "full_node.port: must be a port number (0-65535), got 70000"),
    ({"full_node": {"port": True}}, "full_node.port: must be a port number"),
    ({"full_node": {"rpc_port": -1}}, "full_node.rpc_port: must be a port number"),
    ({"farmer": {"metrics_port": "x"}}, "farmer.metrics_port: must be a port number"),
    ({"network": "mainnet"}, "network: must be one of devnet, sim, testnet, got 'mainnet'"),
    ({"log_level": "LOUD"}, "log_level: must be one of DEBUG, INFO"),
    ({"log_format": "xml"}, "log_format: must be one of console, json, got 'xml'"),
    ({"log_max_bytes": 0}, "log_max_bytes: must be an integer >= 1, got 0"),
    ({"full_node": {"peers": ["127.0.0.1"]}}, "full_node.peers: item 0: must be HOST:PORT"),
    ({"full_node": {"peers": 5}}, "full_node.peers: must be a list, got 5"),
    ({"full_node": {"introducer": "h:0"}}, "full_node.introducer: must be HOST:PORT"),
    ({"full_node": {"max_inbound": -2}}, "full_node.max_inbound: must be an integer >= 0"),
    ({"full_node": {"validation_workers": 0}}, "full_node.validation_workers: must be an"),
    ({"full_node": {"db": ""}}, "full_node.db: must be a non-empty string or null"),
    ({"full_node": {"bogus": 1}}, "full_node.bogus: unknown key"),
    ({"colour": "blue"}, "colour: unknown key"),
    ({"timelord": {"workers": 0}}, "timelord.workers: must be an integer >= 1, got 0"),
    ({"timelord": {"vdf_threads": "maybe"}}, "timelord.vdf_threads: must be true or false"),
    ({"harvester": {"refresh_interval": 0}}, "harvester.refresh_interval: must be a number > 0"),
    ({"harvester": {"plot_dirs": [3]}}, "harvester.plot_dirs: item 0: must be a directory"),
    ({"peers": {"exempt_loopback_from_bans": 2}}, "peers.exempt_loopback_from_bans: must be"),
    ({"farmer": 3}, "farmer: must be a mapping of keys, got 3"),
]


@pytest.mark.parametrize(("data", "message"), BAD_FILE_VALUES)
def test_each_bad_file_value_names_its_key(
    tmp_path: Path, data: dict[str, Any], message: str
) -> None:
    write_config(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={})
    assert info.value.lines == [line for line in info.value.lines if line]
    assert len(info.value.lines) == 1
    assert info.value.lines[0].startswith(f"{tmp_path / 'config.yaml'}: {message}")


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    write_config(tmp_path, {"full_node": {"port": "x", "max_inbound": "y"}, "oops": 1})
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={})
    keys = sorted(line.split(": ")[1] for line in info.value.lines)
    assert keys == ["full_node.max_inbound", "full_node.port", "oops"]


def test_env_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^TRIONODE_FULL_NODE__PORT: full_node.port: must be"):
        load_settings(tmp_path, environ={"TRIONODE_FULL_NODE__PORT": "abc"})
    with pytest.raises(ConfigError, match=r"TRIONODE_FULL_NODE__PROT: unknown key full_node.prot"):
        load_settings(tmp_path, environ={"TRIONODE_FULL_NODE__PROT": "1"})
    with pytest.raises(ConfigError, match=r"TRIONODE_FULLNODE__PORT: unknown section 'fullnode'"):
        load_settings(tmp_path, environ={"TRIONODE_FULLNODE__PORT": "1"})
    with pytest.raises(ConfigError, match=r"^TRIONODE_NETWORK: network: must be one of"):
        load_settings(tmp_path, environ={"TRIONODE_NETWORK": "mainnet"})


def test_env_overrides_shape() -> None:
    values, origins = env_overrides(
        {"TRIONODE_FULL_NODE__PORT": "1", "TRIONODE_LOG_FORMAT": "json"}
    )
    assert values == {"full_node": {"port": 1}, "log_format": "json"}
    assert origins == {
        ("full_node", "port"): "TRIONODE_FULL_NODE__PORT",
        ("log_format",): "TRIONODE_LOG_FORMAT",
    }


def test_flag_errors_name_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--port: full_node.port: must be a port number"):
        build_settings(cli_args("--role", "full_node", "--port", "70000"), tmp_path, {})
    with pytest.raises(ConfigError, match=r"^--peer: full_node.peers: item 1: must be HOST:PORT"):
        build_settings(
            cli_args("--role", "full_node", "--peer", "127.0.0.1:1", "--peer", "nope"),
            tmp_path,
            {},
        )


def test_unreadable_yaml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("full_node: [unclosed\n")
    with pytest.raises(ConfigError, match="config.yaml: not valid YAML"):
        load_settings(tmp_path, environ={})
    (tmp_path / "config.yaml").write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping of keys at the top level"):
        load_settings(tmp_path, environ={})


def test_empty_section_means_defaults(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("introducer:\nfull_node:\n  port: 5\n")
    settings = load_settings(tmp_path, environ={})
    assert settings.introducer.port == 8445 and settings.full_node.port == 5


def test_flag_for_another_role_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_role(cli_args("--role", "farmer", "--peer", "127.0.0.1:1"), tmp_path)
    assert code == EXIT_USAGE
    assert "--peer applies to --role full_node, not farmer" in capsys.readouterr().err
    code = run_role(cli_args("--role", "farmer"), tmp_path)
    assert code == EXIT_USAGE
    assert "--role farmer needs --full-node HOST:PORT" in capsys.readouterr().err


def test_bad_config_value_fails_process_start_with_exit_2(tmp_path: Path) -> None:
    """The real entry point: ``python -m trionode --role full_node --root DIR``."""
    init_root(tmp_path)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["full_node"]["port"] = "abc"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "trionode", "--role", "full_node", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert (
        f"trionode: {tmp_path / 'config.yaml'}: full_node.port: must be a port number "
        "(0-65535), got 'abc'"
    ) in result.stderr
    assert "Traceback" not in result.stderr

    # the same value from the environment names the variable
    (tmp_path / "config.yaml").unlink()
    result = subprocess.run(
        [sys.executable, "-m", "trionode", "--role", "full_node", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TRIONODE_FULL_NODE__MAX_INBOUND": "many"},
    )
    assert result.returncode == 2, result.stderr
    assert "TRIONODE_FULL_NODE__MAX_INBOUND: full_node.max_inbound: must be an integer" in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@localhost/chain", "unsupported database URL 'mysql://u:***@localhost/chain'"),
        ("sqlite://", "an in-memory SQLite database cannot be shared"),
        ("not a url", "not a database URL: 'not a url'"),
    ],
)
def test_bad_db_url_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    code = run_role(cli_args("--role", "full_node", "--port", "0", "--db", url), tmp_path)
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"trionode: --db (full_node.db): {message}" in err
    assert "Traceback" not in err


def test_peers_section_reaches_every_role(tmp_path: Path) -> None:
    init_root(tmp_path)
    Keychain(tmp_path).generate()  # the farmer loads its keys when built
    env = {
        "TRIONODE_PEERS__LISTEN_HOST": "0.0.0.0",
        "TRIONODE_PEERS__MAX_MESSAGE_SIZE": "1048576",
        "TRIONODE_PEERS__IDLE_TIMEOUT": "45",
        "TRIONODE_PEERS__HANDSHAKE_TIMEOUT": "3",
    }
    roles = {
        "full_node": (),
        "farmer": ("--full-node", "127.0.0.1:5"),
        "harvester": ("--farmer", "127.0.0.1:5", "--plots", str(tmp_path)),
        "timelord": ("--full-node", "127.0.0.1:5"),
    }
    for role, extra in roles.items():
        args = cli_args("--role", role, *extra)
        cfg = build_service(build_settings(args, tmp_path, env), role, tmp_path).config
        assert cfg.host == "0.0.0.0", role
        limits = cfg.limits
        assert (limits.max_message_size, limits.idle_timeout, limits.handshake_timeout) == (
            1048576,
            45.0,
            3.0,
        ), role
    intro = build_service(
        build_settings(cli_args("--role", "introducer"), tmp_path, env), "introducer", tmp_path
    )
    assert intro.node.config.host == "0.0.0.0"
    assert intro.node.limits.max_message_size == 1048576


def test_bad_listen_host_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={"TRIONODE_PEERS__LISTEN_HOST": "example.org"})
    assert "peers.listen_host: must be an IP address" in str(info.value)
