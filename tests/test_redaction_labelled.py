"""Redaction measured on the hand-labelled set (tests/fixtures/redaction/labelled.yaml; written by
hand, not by the simulator), with the detector a new study gets (the generic template that
``init`` drafts, the generic word lists). Targets on the tuning parts (tune, and tune2, tune3 and
tune4: turns written blind by other writers, measured, then tuned on): numbers and ids recall 1.00, names
and addresses >= 0.95, precision >= 0.90, ordinary words kept >= 0.90. The held-out parts (not
tuned to) are reported in docs/redaction.md: their floors here only catch a regression. The table in docs/redaction.md must be the one benchmarks/redaction_table.py makes now.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pipeline.text.redaction_eval import load_labelled, parse_markup, score

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "fixtures" / "redaction" / "labelled.yaml"


def _table_module():
    spec = importlib.util.spec_from_file_location("redaction_table", ROOT / "benchmarks" / "redaction_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    module = _table_module()
    parts, misses = module.tables(tmp_path_factory.mktemp("labelled"), str(ROOT / ".cache" / "jieba.cache"))
    return module, parts, misses


def _row(table, category):
    return table.set_index("category").loc[category]


def test_the_labelled_set_is_large_and_varied():
    items = load_labelled(LABELLED)
    tune = [i for i in items if i.part == "tune"]
    assert len(tune) >= 40 and sum(i.part == "heldout" for i in items) >= 20
    assert sum(i.part == "tune2" for i in items) >= 28
    assert sum(i.part == "heldout2" for i in items) >= 28 and sum(i.part == "tune3" for i in items) >= 40
    assert sum(i.part == "tune4" for i in items) >= 70
    cats = {c for i in items for _, _, c in i.gold}
    assert {"name", "mobile", "landline", "id_number", "bank_card", "certificate", "plate", "account", "email",
            "staff_id", "address"} <= cats
    assert sum(len(i.decoys) for i in items) >= 30
    text, gold, decoys = parse_markup("找{name:马}书记，电话{mobile:139 0953 2817}，{ok:马上}到。")
    assert text == "找马书记，电话139 0953 2817，马上到。" and gold == [(1, 2, "name"), (7, 20, "mobile")] \
        and decoys == [(21, 23)]


@pytest.mark.parametrize("part", ["tuning", "tuning 2", "tuning 3", "tuning 4"])
def test_targets_on_the_tuning_parts(measured, part):
    _, parts, misses = measured
    t = parts[part]
    assert _row(t, "numbers and ids")["recall"] == 1.0, misses[part]
    for group in ("names", "addresses"):
        assert _row(t, group)["recall"] >= 0.95, misses[part]
    for group in ("numbers and ids", "names", "addresses"):
        assert _row(t, group)["precision"] >= 0.90, misses[part]
    assert _row(t, "ordinary words (decoys)")["recall"] >= 0.90, misses[part]


def test_the_held_out_part_has_not_regressed(measured):
    """Not a target (nothing was tuned on it): a floor below its measured value, so that a change
    that breaks generalisation shows."""
    _, parts, misses = measured
    h = parts["held-out"]
    assert _row(h, "numbers and ids")["recall"] == 1.0, misses["held-out"]
    assert _row(h, "names")["recall"] >= 0.85 and _row(h, "addresses")["recall"] >= 0.8, misses["held-out"]
    assert _row(h, "ordinary words (decoys)")["recall"] >= 0.9, misses["held-out"]


@pytest.mark.parametrize("part, names, numbers, addresses", [("held-out 2", 0.92, 1.0, 0.95),
                                                           ("held-out 5", 0.82, 0.92, 0.70),
                                                           ("held-out 6", 0.86, 1.0, 0.91)])
def test_the_blind_parts_have_not_regressed(measured, part, names, numbers, addresses):
    """The part another writer wrote blind and nobody tuned on (labelled.yaml's notes say how
    blind it still is): floors at or just below what it measures, precision and decoys at the
    targets. (Held-out 3 was tuned on after its blind measurement: it is tuning 3 now.)"""
    _, parts, misses = measured
    h = parts[part]
    assert _row(h, "names")["recall"] >= names and _row(h, "numbers and ids")["recall"] >= numbers, misses[part]
    assert _row(h, "addresses")["recall"] >= addresses, misses[part]
    for group in ("numbers and ids", "names", "addresses"):
        assert _row(h, group)["precision"] >= 0.90, misses[part]
    assert _row(h, "ordinary words (decoys)")["recall"] >= 0.9, misses[part]


def test_role_words_survive(tmp_path):
    """马书记, 张主任, 马大姐, 小李: only the surname is redacted (the gold spans say so, and no
    redacted name reaches into the role word after it)."""
    import tempfile

    from pipeline.text.corpus import Context, parse_settings, _state
    from pipeline.text.redaction_eval import template_config, turn_detector
    from pipeline.text.rules import load_rules
    from pipeline.text.segment import resolve_engine, resolve_userdict, segmenter_spec

    cfg = template_config(Path(tempfile.mkdtemp(dir=tmp_path)) / "config", ROOT / "config")
    rules = load_rules(cfg, cfg.parent / "stopwords.txt")
    cache = str(ROOT / ".cache" / "jieba.cache")
    ctx = Context(rules=rules, spec=segmenter_spec(resolve_engine("auto"), resolve_userdict(cfg.parent / "userdict.txt", cache),
                                                   cache), settings=parse_settings(n_jobs=1), communities=None, communities_name="")
    seg, lexicon, _ = _state(ctx)
    detect = turn_detector(rules, seg, lexicon)
    roles = ("书记", "主任", "大姐", "老师", "会计", "专干")
    items = [i for i in load_labelled(LABELLED) if any(i.text[e:e + 2] in roles for _, e, _ in i.gold)]
    assert len(items) >= 5
    for it in items:
        for s, e, typ in detect(it.text):
            assert not (typ == "name" and any(r in it.text[s:e] for r in roles)), (it.id, it.text[s:e])
    # the scores of those turns on the parts tuned on (the blind parts have their floors above)
    table, misses = score([i for i in items if i.part not in ("heldout5", "heldout6")], detect)
    assert _row(table, "names")["recall"] >= 0.95 and _row(table, "names")["precision"] == 1.0, misses


def test_the_docs_show_the_current_table(measured):
    module, parts, _ = measured
    doc = (ROOT / "docs" / "redaction.md").read_text(encoding="utf-8")
    assert module.block(parts) in doc, "docs/redaction.md is stale: run benchmarks/redaction_table.py"
