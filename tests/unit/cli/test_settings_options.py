"""``flight-iox serve`` flags and ``FLIGHT_IOX_*`` variables come from the ``Settings`` fields."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import click
import pytest

from flight_iox.cli.serve import format_size, parse_size, serve
from flight_iox.config import Limits, Settings, build_settings, setting_specs
from flight_iox.setting_fields import SettingSpec

DOCS = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def parse(*args: str) -> Settings:
    """What ``serve`` would build from these flags and the current environment."""
    with serve.make_context("serve", list(args)) as ctx:
        return build_settings(ctx.params)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("FLIGHT_IOX_"):
            monkeypatch.delenv(name)


def test_every_field_has_one_flag_and_one_variable() -> None:
    specs = setting_specs()
    flat = [f.name for f in fields(Settings) if f.name != "limits"] + [
        f.name for f in fields(Limits)
    ]
    assert sorted(spec.path[-1] for spec in specs) == sorted(flat)
    options = [p for p in serve.params if isinstance(p, click.Option)]
    assert [o.name for o in options] == [spec.name for spec in specs]
    for option, spec in zip(options, specs, strict=True):
        assert option.envvar == "FLIGHT_IOX_" + spec.name.upper()
        assert spec.flag.split("/")[0] in option.opts


def test_no_flags_and_no_variables_give_the_dataclass_defaults() -> None:
    assert parse() == Settings()
    assert build_settings({}) == Settings()


def test_variables_take_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLIGHT_IOX_HTTP_ADDR", "127.0.0.1:9999")
    monkeypatch.setenv("FLIGHT_IOX_DATA_DIR", "/tmp/elsewhere")
    monkeypatch.setenv("FLIGHT_IOX_BUFFER_MEMORY_LIMIT", "2GiB")
    monkeypatch.setenv("FLIGHT_IOX_WAL_FSYNC", "false")
    monkeypatch.setenv("FLIGHT_IOX_MAX_TABLES", "7")
    monkeypatch.setenv("FLIGHT_IOX_AUTH_OFF_OK", "1")
    monkeypatch.setenv("FLIGHT_IOX_PERSIST_MAX_AGE", "2.5")
    monkeypatch.setenv("FLIGHT_IOX_PERSIST_ON_SHUTDOWN", "no")
    monkeypatch.setenv("FLIGHT_IOX_LOG_LEVEL", "DEBUG")
    settings = parse()
    assert settings.http_addr == "127.0.0.1:9999"
    assert settings.data_dir == Path("/tmp/elsewhere")
    assert settings.buffer_memory_limit == 2 * 1024**3
    assert settings.wal_fsync is False
    assert settings.limits == Limits(max_tables_per_database=7)
    assert settings.auth_off_ok is True
    assert settings.persist_max_age_seconds == 2.5
    assert settings.persist_on_shutdown is False
    assert settings.log_level == "debug"


def test_a_flag_wins_over_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLIGHT_IOX_HTTP_ADDR", "127.0.0.1:9999")
    assert parse("--http-addr", "127.0.0.1:1234").http_addr == "127.0.0.1:1234"


def test_the_old_command_prefixed_variable_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, click's auto_envvar_prefix made FLIGHT_IOX_SERVE_HTTP_ADDR the only name."""
    monkeypatch.setenv("FLIGHT_IOX_SERVE_HTTP_ADDR", "127.0.0.1:9999")
    assert parse().http_addr == Settings().http_addr


def test_flags_reach_every_field() -> None:
    settings = parse(
        "--wal-segment-bytes", "1MiB", "--query-timeout", "5", "--persist-interval", "0.5",
        "--no-persist-on-shutdown", "--compact-min-files", "9", "--i-know-auth-is-off",
        "--max-databases", "3", "--max-columns", "20", "--auth", "off",
    )  # fmt: skip
    assert settings.wal_segment_bytes == 1024 * 1024
    assert settings.query_timeout_seconds == 5.0
    assert settings.persist_interval_seconds == 0.5
    assert settings.persist_on_shutdown is False
    assert settings.compact_min_files == 9
    assert settings.auth_off_ok is True
    assert settings.limits == Limits(3, 10_000, 20)
    assert settings.auth == "off"


def test_bad_values_are_usage_errors() -> None:
    with pytest.raises(click.BadParameter):
        parse("--buffer-memory-limit", "lots")
    with pytest.raises(click.BadParameter):
        parse("--max-columns", "1")
    with pytest.raises(click.BadParameter):
        parse("--object-store", "ftp")


def test_sizes_round_trip() -> None:
    assert parse_size("512MiB") == 512 * 1024**2
    assert parse_size("2g") == 2 * 1024**3
    assert parse_size("1048576") == 1024**2
    assert format_size(1024**3) == "1GiB"
    assert format_size(64 * 1024**2) == "64MiB"
    assert format_size(1000) == "1000"
    assert format_size(0) == "0"


def test_docs_list_exactly_the_flags_and_variables() -> None:
    """docs/configuration.md stays true: one row per setting, with its flag and variable."""
    rows = re.findall(r"^\| `(--[^`]+)` \| `(FLIGHT_IOX_[A-Z0-9_]+)` \|", DOCS.read_text(), re.M)
    documented = {variable: flag for flag, variable in rows}
    generated = {spec.envvar: spec.flag for spec in setting_specs()}
    assert documented == generated


def _shown(spec: SettingSpec) -> str:
    """A default as docs/configuration.md writes it."""
    default = spec.default
    if spec.option.shown_default is not None:
        return spec.option.shown_default
    if default is None:
        return "none"
    if isinstance(default, bool):
        return "on" if default else "off"
    if spec.option.kind == "size":
        return format_size(default)
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    if isinstance(default, Path):
        return f"./{default}"
    return str(default)


def test_docs_give_each_settings_default() -> None:
    """The default column of docs/configuration.md is the ``Settings`` default."""
    rows = re.findall(r"^\| `--[^`]+` \| `(FLIGHT_IOX_\w+)` \| ([^|]+) \|", DOCS.read_text(), re.M)
    documented = {variable: default.replace("`", "").strip() for variable, default in rows}
    assert documented == {spec.envvar: _shown(spec) for spec in setting_specs()}


def test_catalog_properties_repeat_as_flags_or_share_one_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flags = parse("--catalog-type", "REST", "--catalog-property", "a=1",
                  "--catalog-property", "scope=x=y", "--catalog-property", "empty=")  # fmt: skip
    assert flags.catalog_type == "rest"
    assert flags.catalog_properties == (("a", "1"), ("scope", "x=y"), ("empty", ""))
    monkeypatch.setenv("FLIGHT_IOX_CATALOG_PROPERTIES", "glue.region=eu-west-1  glue.id=123\n")
    monkeypatch.setenv("FLIGHT_IOX_CATALOG_TYPE", "glue")
    variables = parse()
    assert variables.catalog_type == "glue"
    assert variables.catalog_properties == (("glue.region", "eu-west-1"), ("glue.id", "123"))
    assert parse("--catalog-property", "b=2").catalog_properties == (("b", "2"),)  # flag wins
    with pytest.raises(click.BadParameter, match="KEY=VALUE"):
        parse("--catalog-property", "no-equals-sign")
    with pytest.raises(click.BadParameter):
        parse("--catalog-type", "in-memory")


def test_a_bounded_setting_refuses_values_outside_its_range() -> None:
    assert parse("--persist-encoder-nice", "19").persist_encoder_nice == 19
    for wrong in ("20", "-1"):
        with pytest.raises(click.BadParameter, match="0<=x<=19"):
            parse("--persist-encoder-nice", wrong)
