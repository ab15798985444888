"""Plugin discovery over real entry points: pins, versions, broken plugins."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import pytest
from reel_host.plugins import PluginError, load_plugins, parse_pins


def test_parse_pins__names_specifiers_and_brackets():
    pins = parse_pins("image==0.3.*,audio, video>=1,<2 ,test[>=1.0]")
    assert str(pins["image"]) == "==0.3.*"
    assert str(pins["audio"]) == ""
    assert pins["video"].contains("1.5") and not pins["video"].contains("2.0")
    assert pins["test"].contains("1.0")
    with pytest.raises(PluginError, match="bad version specifier"):
        parse_pins("image==>>1")


def test_load_plugins__pinned_by_entry_point_or_distribution_name():
    registry = load_plugins("testplugin==1.2.*")
    assert {"test.echo", "test.gpu"} <= set(registry.generators)
    assert registry.plugins[0].dist == "reel-test-plugin"
    assert registry.plugins[0].version == "1.2.0"
    assert {"test.echo", "test.gpu"} <= set(load_plugins("reel-test-plugin").generators)


def test_load_plugins__version_outside_the_pin_stops_with_a_clear_message():
    with pytest.raises(PluginError, match=r"testplugin.*1\.2\.0.*does not satisfy.*>=2"):
        load_plugins("testplugin>=2")


def test_load_plugins__missing_pin_names_the_installed_plugins():
    with pytest.raises(PluginError, match="nosuch.*not installed; installed:.*testplugin"):
        load_plugins("nosuch")


def test_load_plugins__only_and_block_switches():
    assert "test.echo" not in load_plugins(None, block="testplugin").generators
    assert {"test.echo", "test.gpu"} <= set(load_plugins(None, only="testplugin").generators)


@pytest.fixture
def broken_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A real (dist-info) distribution whose plugin module fails to import."""
    (tmp_path / "reel_broken.py").write_text("raise RuntimeError('boom at import')\n")
    dist = tmp_path / "reel_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: reel-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [reel.plugins]
        broken = reel_broken
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "broken"
    sys.modules.pop("reel_broken", None)


def test_load_plugins__unpinned_broken_plugin_is_reported_and_skipped(broken_plugin):
    registry = load_plugins(None, only="testplugin,broken")
    assert "test.echo" in registry.generators
    assert registry.failed[0].name == "broken"
    assert registry.failed[0].dist == "reel-broken"
    assert "boom at import" in registry.failed[0].error


def test_load_plugins__pinned_broken_plugin_stops_the_worker(broken_plugin):
    with pytest.raises(PluginError, match="pinned plugin 'broken'.*failed to load.*boom"):
        load_plugins("broken")


def test_load_plugins__trace_logs_every_hook_call(caplog):
    """REEL_TRACE_PLUGINS: hooks are called through pluggy, so its tracing sees them."""
    with caplog.at_level(logging.INFO, logger="reel.plugins"):
        registry = load_plugins(None, only="testplugin", trace=True)
    traced = [r.getMessage() for r in caplog.records if r.name == "reel.plugins"]
    assert any("reel_generators" in m and "[hook]" in m for m in traced), traced
    assert any("finish reel_generators" in m and "reel_test_plugin.Echo" in m for m in traced), traced
    assert "test.echo" in registry.generators


def test_load_plugins__hook_calls_reach_hookcall_monitoring():
    """What a tracer added with add_hookcall_monitoring sees is the real call of each plugin."""
    registry = load_plugins(None, only="testplugin")
    calls: list[tuple[str, list[str]]] = []
    assert registry.manager is not None
    undo = registry.manager.add_hookcall_monitoring(
        lambda name, impls, kwargs: calls.append((name, [i.plugin_name for i in impls])),
        lambda outcome, name, impls, kwargs: None,
    )
    try:
        registry.manager.hook.reel_generators()
    finally:
        undo()
    assert calls == [("reel_generators", ["testplugin"])]
