"""The ``transiscope`` command, as a user types it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import PROJECT, Bus, write_registry
from transiscope.cli import main
from transiscope.core import vocab
from transiscope.settings import DEFAULT_BASE_IRI


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_all_then_query_count_by_category(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == [
        "source",
        "mode",
        "outcome",
        "fetched",
        "loaded",
        "quarantined",
        "warnings",
        "triples",
        "seconds",
    ]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["transiscope"][1:6] == ["live", "success", "14", "12", "2"]
    # then the steps after the loads, read from the store: links, gaps, the map's files
    for step in ("link", "gaps", "export"):
        assert f"{step}: success: " in out
    assert out.split("export: success: ", 1)[1].startswith("31 initiatives, ")  # 12 + 10 + 9 loaded
    assert (bus.home / "exports" / "initiatives.geojson").is_file()
    assert list((bus.home / "exports" / "gaps").glob("*.csv"))
    assert rows["presdecheznous"][1:6] == ["live", "success", "12", "10", "2"]
    assert rows["francetierslieux"][1:6] == ["live", "success", "10", "9", "1"]

    query = (
        "SELECT ?category (COUNT(DISTINCT ?i) AS ?n) WHERE { ?i a ts:Initiative ; ts:category ?category } "
        "GROUP BY ?category ORDER BY DESC(?n) ?category"
    )
    assert main(["query", query, "--format", "json"]) == 0
    bindings = json.loads(capsys.readouterr().out)["results"]["bindings"]
    counts = {b["category"]["value"].rsplit("/", 1)[1]: int(b["n"]["value"]) for b in bindings}
    assert counts["tiers-lieux"] == 9  # every France Tiers-Lieux record that loaded is a tiers-lieu
    assert sum(counts.values()) >= 31

    assert main(["query", query]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["category", "n"] and table[2].split() == ["tx:tiers-lieux", "9"]

    assert main(["query", query, "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("category,n\r\n")


def test_status_after_runs(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--no-downstream", "transiscope"]) == 0
    write_registry(bus.registry.parent, {**bus.urls, "presdecheznous": f"http://127.0.0.1:{_closed_port()}/x"})
    assert main(["run", "--no-downstream", "presdecheznous"]) == 1
    captured = capsys.readouterr()
    assert "presdecheznous: failed: source 'presdecheznous'" in captured.err
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line and not line.startswith(" ")}
    assert "success" in rows["transiscope"] and "14" in rows["transiscope"]
    assert "failed" in rows["presdecheznous"]
    assert "never run" in rows["francetierslieux"]
    assert "connection was refused" in out


def test_offline_fallback_uses_the_sample_and_says_so(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    write_registry(bus.registry.parent, {"transiscope": f"http://127.0.0.1:{_closed_port()}/api/elements.json"})
    assert main(["run", "--no-downstream", "--offline-fallback"]) == 0
    captured = capsys.readouterr()
    row = captured.out.splitlines()[2].split()
    assert row[:6] == ["transiscope", "sample", "success", "14", "12", "2"]
    assert "falling back to the bundled sample" in captured.err
    assert (
        main(["query", "SELECT ?mode ?why WHERE { ?r ts:mode ?mode ; ts:fallbackReason ?why }", "--format", "json"])
        == 0
    )
    binding = json.loads(capsys.readouterr().out)["results"]["bindings"][0]
    assert binding["mode"]["value"] == "sample" and "unreachable" in binding["why"]["value"]


def test_sample_flag_never_touches_the_real_urls(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    write_registry(bus.registry.parent, {"transiscope": "http://127.0.0.1:9/never"})
    assert main(["run", "--no-downstream", "--sample", "transiscope"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split()[:3] == ["transiscope", "sample", "success"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nope"], "unknown source 'nope' (configured sources: transiscope, presdecheznous, francetierslieux)"),
        (["run", "--downstream", "link,exprot"], "unknown downstream step(s) exprot: choose among link, gaps, export"),
        (["downstream", "gasp"], "unknown downstream step(s) gasp: choose among link, gaps, export"),
        (["query", "SELECT WHERE {"], "the SPARQL query is not valid"),
        (["query", "@/nonexistent/query.rq"], "cannot read the query file"),
    ],
)
def test_user_mistakes_give_one_line(
    bus: Bus, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    if argv[0] == "query":
        assert main(["run", "--no-downstream", "transiscope"]) == 0
        capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("transiscope: error: ") and message in err
    assert "\n" not in err and "Traceback" not in err


def test_query_before_any_run(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "SELECT * WHERE { ?s ?p ?o }"]) == 2
    assert "run `transiscope run` first" in capsys.readouterr().err


def test_bad_config_in_environment(
    bus: Bus, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSISCOPE_HTTP_RETRIES", "many")
    assert main(["sources"]) == 2
    assert "TRANSISCOPE_HTTP_RETRIES='many' is not a number" in capsys.readouterr().err
    monkeypatch.delenv("TRANSISCOPE_HTTP_RETRIES")
    # every TRANSISCOPE_* variable is read by the one settings object, whichever command runs
    for name, value, message in (
        ("TRANSISCOPE_SERVE_PORT", "abc", "TRANSISCOPE_SERVE_PORT='abc' is not a whole number"),
        ("TRANSISCOPE_SERVE_PORT", "70000", "TRANSISCOPE_SERVE_PORT='70000' must be between 0 and 65535"),
        ("TRANSISCOPE_SERVE_TIMEOUT", "soon", "TRANSISCOPE_SERVE_TIMEOUT='soon' is not a number"),
        ("TRANSISCOPE_NOTIFY_RETRIES", "2.5", "TRANSISCOPE_NOTIFY_RETRIES='2.5' is not a whole number"),
        ("TRANSISCOPE_PUBLIC_URL", "javascript:x", "TRANSISCOPE_PUBLIC_URL='javascript:x' is not an http(s) URL"),
        ("TRANSISCOPE_TERRITORIES_URL", "file:///x", "TRANSISCOPE_TERRITORIES_URL='file:///x' is not an http(s) URL"),
    ):
        with monkeypatch.context() as env:
            env.setenv(name, value)
            assert main(["sources"]) == 2, name
            err = capsys.readouterr().err
            assert err == f"transiscope: error: {message}\n", err


def test_console_script_end_to_end(bus: Bus, tmp_path) -> None:
    """The installed entry point, in a separate process, as `make run` calls it."""
    env = {**os.environ, "TRANSISCOPE_HOME": str(tmp_path / "cli-home")}
    exe = [sys.executable, "-m", "transiscope"]
    done = subprocess.run([*exe, "run", "--sample"], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(" success ") == 3
    assert [line.split(":")[:2] for line in done.stdout.splitlines()[-3:]] == [
        ["link", " success"],
        ["gaps", " success"],
        ["export", " success"],
    ]
    graph = vocab.metadata_graph(DEFAULT_BASE_IRI)
    runs = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?r a prov:Activity }} }}"
    done = subprocess.run([*exe, "query", runs], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[2].strip() == "3"
