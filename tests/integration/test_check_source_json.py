"""``transiscope check-source``: the draft crosswalk on guessed labels, a single Murmurations profile, and
``--json`` (the report as one JSON document, a contract for scripts and the web self-check) on the bundled
samples and on hostile files. Real files, the real pipeline; no mocks."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from transiscope import cli
from transiscope.core.vocab import TX
from transiscope.reports.check_source import check_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "check_source"
KEYS = {
    "schema_version",
    "ok",
    "error",
    "origin",
    "format",
    "kind",
    "how",
    "licence",
    "mapping",
    "records",
    "loaded",
    "quarantined",
    "would_load",
    "would_quarantine",
    "verdict",
    "warnings",
    "notes",
    "fix_first",
    "fix_first_fr",
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TRANSISCOPE_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


def test_guessed_categories_are_commented_suggestions_and_exact_labels_active_lines(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "guesses.toml"
    check_source(str(FIXTURES / "categories-guesses.csv"), out=out)
    text = out.read_text(encoding="utf-8")
    active = tomllib.loads(text)["categories"]
    assert active == {"Jardin partagé": ["jardins-partages"], "AMAP": ["amap-circuits-courts"]}
    assert '# suggestion: "Tür" = ["agriculture-alimentation"]' in text
    assert '# suggestion: "Öl" = ["solidarite"]' in text
    assert '# suggestion: "Mode" = ["modes-de-deplacement"]' in text


def test_a_single_murmurations_profile_is_read_as_a_profile(home: Path, tmp_path: Path) -> None:
    result = check_source(str(FIXTURES / "murmurations-profile.json"), out=tmp_path / "profile.toml")
    assert result.detection.format == "murmurations" and "single Murmurations profile" in result.detection.how[0]
    assert result.counts == {"fetched": 1, "loaded": 1, "quarantined": 0}


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict, str]:
    code = cli.main(["check-source", *argv, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err  # the whole of stdout is one JSON document


@pytest.mark.parametrize(
    ("sample", "fmt", "records"),
    [("transiscope.json", "gogocarto", 14), ("kvm-france.json", "kvm", 12), ("amap-idf.csv", "csv", 5)],
)
def test_json_report_of_a_bundled_sample(
    sample: str, fmt: str, records: int, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = Path(sample).stem
    code, document, err = _json(capsys, [str(SAMPLES / sample), "--name", name, "--out", str(tmp_path / "m.toml")])
    assert set(document) == KEYS and document["schema_version"] == 1 and document["ok"] is True
    assert document["format"] == fmt and document["records"] == records
    assert document["loaded"] + document["quarantined"] == records
    assert (
        len(document["would_load"]) == document["loaded"]
        and len(document["would_quarantine"]) == document["quarantined"]
    )
    assert code == (1 if document["verdict"] or not document["loaded"] else 0)
    for item in document["would_load"]:
        assert set(item) == {"id", "name", "categories", "country"}
        assert all(c.startswith(TX) for c in item["categories"])
        assert item["country"] is None or (len(item["country"]) == 2 and item["country"].isupper())
    assert any(item["categories"] for item in document["would_load"])
    for item in document["would_quarantine"]:
        assert item["reasons"] and all(isinstance(r, str) and r for r in item["reasons"])
    assert "Traceback" not in err and not home.exists()


def test_json_report_of_the_gogocarto_sample_names_its_quarantine(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, _err = _json(capsys, [str(SAMPLES / "transiscope.json"), "--name", "transiscope"])
    quarantined = {q["id"]: q for q in document["would_quarantine"]}
    assert set(quarantined) == {"3nB", "3pC"}  # (0, 0) point; status -4 (deleted): samples/README.md
    assert {r["id"] for r in document["would_load"]} & set(quarantined) == set()
    assert all(r["country"] == "FR" for r in document["would_load"])
    assert code == 0 and document["fix_first"]
    # the advice in French too, line for line; the English list keeps its version-1 wording
    assert len(document["fix_first_fr"]) == len(document["fix_first"])
    deleted = next(i for i, line in enumerate(document["fix_first"]) if line.startswith("records the source itself"))
    assert document["fix_first_fr"][deleted].startswith("les fiches que la source marque elle-même comme supprimées")
    assert "(1 fiche(s) : " in document["fix_first_fr"][deleted]
    assert all(fr != en for fr, en in zip(document["fix_first_fr"], document["fix_first"], strict=True))


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("login.json", b"<!doctype html><html><head><title>Connexion</title></head><body>Login</body></html>"),
        ("dump.json", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"),
        ("notes.csv", b"Bonjour, ceci n'est pas un fichier de donnees\n"),
    ],
)
def test_json_report_of_a_hostile_file_is_still_one_document(
    name: str, body: bytes, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    code, document, err = _json(capsys, [str(path)])
    assert code == 2
    assert set(document) == KEYS and document["ok"] is False and document["error"]
    assert document["would_load"] == [] and document["would_quarantine"] == [] and document["records"] == 0
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("transiscope: error: ")
    assert not home.exists() and not list(tmp_path.glob("*.mapping.toml"))
