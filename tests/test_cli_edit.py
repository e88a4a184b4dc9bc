"""``llmcluster edit`` and ``llmcluster fit --clusters``, through the real console script."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
import pytest

from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.testing import ScriptedProvider
from test_cli import cli


@pytest.fixture
def saved(tmp_path, intent_texts) -> Path:
    """A folder with model.joblib and clusters.json of a fitted model (clusters c1..c4)."""
    texts, _ = intent_texts
    model = LLMClusterer(provider=ScriptedProvider(), random_state=0).fit(texts)
    folder = tmp_path / "results"
    folder.mkdir()
    joblib.dump(model, folder / "model.joblib")
    model.save_clusters(folder / "clusters.json")
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _clusters(folder: Path) -> dict:
    return json.loads((folder / "clusters.json").read_text(encoding="utf-8"))


def test_rename_writes_model_and_clusters(saved, tmp_path):
    done = cli("edit", "--model", saved / "model.joblib", "rename", "c1", "Блокировка карты",
               "--criteria", "Карта заблокирована.", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Renamed c1: Блокировка карты" in done.stdout
    model = joblib.load(saved / "model.joblib")
    assert model.registry_.get("c1").name == "Блокировка карты"
    data = _clusters(saved)
    assert data["clusters"][0]["name"] == "Блокировка карты"
    assert data["edits"][0]["op"] == "rename" and data["edits"][0]["cluster_id"] == "c1"
    # The edit sticks through a later update.
    texts = tmp_path / "new.csv"
    pd.DataFrame({"text": ["card lost abroad", "login broken"]}).to_csv(texts, index=False)
    out = tmp_path / "week2"
    done = cli("update", "--model", saved / "model.joblib", "--input", texts, "--out", out,
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert rows["cluster_name"].tolist()[0] == "Блокировка карты"
    assert _clusters(out)["edits"][0]["name"] == "Блокировка карты"


def test_move_pins_texts(saved, tmp_path):
    done = cli("edit", "--model", saved / "model.joblib", "move", "c2", "card pin forgotten",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = joblib.load(saved / "model.joblib")
    assert model.predict(["card pin forgotten"]).tolist() == [model.registry_.index_of("c2")]
    assert _clusters(saved)["edits"][0] == {**_clusters(saved)["edits"][0], "op": "move",
                                            "texts": ["card pin forgotten"], "cluster_id": "c2"}


def test_lock_then_remove_is_refused_and_writes_nothing(saved, tmp_path):
    done = cli("edit", "--model", saved / "model.joblib", "lock", "c3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    before = _files(saved)
    done = cli("edit", "--model", saved / "model.joblib", "remove", "c3", cwd=tmp_path)
    assert done.returncode == 1
    assert "is locked" in done.stderr and "Traceback" not in done.stderr
    assert _files(saved) == before


def test_unknown_ids_name_known_ones(saved, tmp_path):
    before = _files(saved)
    done = cli("edit", "--model", saved / "model.joblib", "rename", "c99", "x", cwd=tmp_path)
    assert done.returncode == 1
    assert "no cluster has id 'c99'; known ids: c1, c2, c3, c4" in done.stderr
    assert _files(saved) == before


def test_merge_remove_and_split(saved, tmp_path, intent_texts):
    model = joblib.load(saved / "model.joblib")
    names = {c.id: c.name for c in model.clusters_}
    done = cli("edit", "--model", saved / "model.joblib", "merge", "c1", "c3", "--name",
               "Cards and refunds", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = _clusters(saved)
    merged = {c["id"]: c for c in data["clusters"]}
    assert merged["c3"]["status"] == "merged" and merged["c3"]["merged_into"] == "c1"
    assert merged["c1"]["name"] == "Cards and refunds"
    done = cli("edit", "--model", saved / "model.joblib", "remove", "c4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert {c["id"]: c for c in _clusters(saved)["clusters"]}["c4"]["status"] == "removed"
    model = joblib.load(saved / "model.joblib")
    assert model.predict([t for t in intent_texts[0] if t.startswith("доставка")]).tolist() \
        == [-1, -1, -1]
    assert [e["op"] for e in model.edits_] == ["merge", "remove"]
    assert names["c2"] == model.registry_.get("c2").name

    # split: ScriptedProvider proposes one cluster per first keyword, so the
    # merged card+refund cluster splits back into two.
    texts = tmp_path / "texts.csv"
    pd.DataFrame({"body": intent_texts[0]}).to_csv(texts, index=False)
    done = cli("edit", "--model", saved / "model.joblib", "split", "c1", "--input", texts,
               "--text-column", "body", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = joblib.load(saved / "model.joblib")
    live = sorted(c.name for c in model.get_clusters())
    assert live == sorted([names["c2"], "card", "refund"])
    assert model.registry_.get("c1").status == "removed"
    assert [c.origin for c in model.get_clusters() if c.name in ("card", "refund")] \
        == ["edit", "edit"]


def test_fit_with_a_seed_taxonomy(tmp_path):
    taxonomy = tmp_path / "taxonomy.csv"
    pd.DataFrame([{"name": "Card problems", "description": "Blocked, lost or stolen cards.",
                   "category": "Cards"}]).to_csv(taxonomy, index=False)
    requests = tmp_path / "requests.csv"
    pd.DataFrame({"text": ["card blocked", "card lost", "card stolen", "login fails"] * 3}) \
        .to_csv(requests, index=False)
    out = tmp_path / "results"
    done = cli("fit", "--input", requests, "--clusters", taxonomy, "--provider", "offline",
               "--out", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = _clusters(out)
    first = data["clusters"][0]
    assert (first["name"], first["locked"], first["origin"]) == ("Card problems", True, "seed")
    assert data["categories"][0]["name"] == "Cards"
    rows = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    card_rows = rows[rows["cluster_id"] == "c1"]
    assert (card_rows["category_name"] == "Cards").all() and len(card_rows)


def test_fit_refuses_a_bad_seed_file_with_its_line(tmp_path):
    taxonomy = tmp_path / "taxonomy.csv"
    pd.DataFrame([{"name": "Cards"}, {"name": "cards"}]).to_csv(taxonomy, index=False)
    requests = tmp_path / "requests.csv"
    pd.DataFrame({"text": ["card blocked"] * 5}).to_csv(requests, index=False)
    out = tmp_path / "results"
    done = cli("fit", "--input", requests, "--clusters", taxonomy, "--provider", "offline",
               "--out", out, cwd=tmp_path)
    assert done.returncode == 1
    assert "line 3" in done.stderr and "also the name at" in done.stderr
    assert not out.exists()
