"""The finding taxonomy: packaged data files, validation messages and office overrides."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from fieldkit.errors import ConfigError, InputError, NotFoundError
from fieldkit.findings import taxonomy as tx
from fieldkit.findings.taxonomy import check_taxonomy, load_taxonomy

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = load_taxonomy()
CJK = re.compile(r"[\u4e00-\u9fff]")


def category(**overrides) -> dict:
    """A valid category mapping; keys set to None are removed."""
    data = {
        "id": "gw-test", "name_zh": "测试类别", "name_en": "Test category", "severity": "medium",
        "urgency": "normal", "responsible_body": "县级人民政府文物主管部门",
        "legal_basis": [{"law": "长城保护条例", "articles": ["第十八条"]}],
        "recommendation_zh": "依法履行监督管理职责，责令限期改正。",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def write(folder: Path, name: str, categories: list[dict], domain="great_wall") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump({"format": 1, "domain": domain, "categories": categories},
                                   allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ---- the packaged taxonomy -------------------------------------------------------------------

def test_packaged_taxonomy_is_valid_and_has_three_domains():
    assert check_taxonomy() == []
    assert {d.id for d in PACKAGED.domains} == {"great_wall", "rivers", "fitness"}
    assert {d.id: d.layer_kinds for d in PACKAGED.domains} == {
        "great_wall": ("great_wall",), "rivers": ("river",), "fitness": ("fitness_site",)}


@pytest.mark.parametrize("cat", PACKAGED.categories(), ids=lambda c: c.id)
def test_every_category_is_complete(cat):
    assert CJK.search(cat.name_zh) and cat.name_en.isascii() and cat.name_en.strip()
    assert cat.severity in tx.SEVERITIES and cat.urgency in tx.URGENCIES
    assert CJK.search(cat.responsible_body)
    assert cat.legal_basis and any(b.articles for b in cat.legal_basis)
    assert all(b.law and (b.articles or b.note) for b in cat.legal_basis)
    assert CJK.search(cat.recommendation_zh) and cat.recommendation_zh.startswith("依法")
    assert not re.search(r"[\u4e00-\u9fff，、；。]\s+[\u4e00-\u9fff]", cat.recommendation_zh)
    assert cat.id.startswith({"great_wall": "gw-", "rivers": "rv-", "fitness": "ft-"}[cat.domain])


BRIEF_CATEGORIES = {
    "great_wall": ["gw-earth-brick-planting", "gw-graffiti", "gw-unrelated-facilities",
                   "gw-vehicle-crossing", "gw-closed-section-activity", "gw-illegal-construction",
                   "gw-sign-missing", "gw-no-protection-body-or-log", "gw-no-warden",
                   "gw-structural-damage"],
    "fitness": ["ft-rust-peeling", "ft-bolts-loose-missing", "ft-parts-missing-bearing",
                "ft-wooden-seat-rot", "ft-post-loose-expansion-bolt", "ft-beyond-service-life",
                "ft-no-date-life-label", "ft-no-instructions-warnings"],
}


@pytest.mark.parametrize("domain", sorted(BRIEF_CATEGORIES))
def test_brief_categories_are_covered(domain):
    ids = {c.id for c in PACKAGED.categories(domain)}
    assert set(BRIEF_CATEGORIES[domain]) <= ids


def test_rivers_cover_the_four_disorders_and_pollution():
    groups = {c.group_zh for c in PACKAGED.categories("rivers")}
    assert groups == {"乱占", "乱采", "乱堆", "乱建", "污染"}
    pollution = [c for c in PACKAGED.categories("rivers") if c.group_zh == "污染"]
    assert pollution and all("生态环境" in c.responsible_body and not c.verified for c in pollution)
    water = [c for c in PACKAGED.categories("rivers") if c.group_zh != "污染"]
    assert all("水行政主管部门" in c.responsible_body for c in water)


def test_citations_use_2024_cultural_relics_numbering():
    """BRIEF §6 Q7: the old 文物保护法 articles 66 and 76 must not be cited."""
    cited = [a for c in PACKAGED.categories("great_wall") for b in c.legal_basis
             if "文物保护法" in b.law for a in b.articles]
    assert "第八十三条第一款第（一）项" in cited
    assert not any(a.startswith(("第六十六条", "第七十六条")) for a in cited)
    assert PACKAGED.get("gw-illegal-construction").legal_basis[1].citation() == \
        "《中华人民共和国文物保护法》第二十八条、第二十九条"


def test_gb19272_edition_follows_the_date():
    cat = PACKAGED.get("ft-bolts-loose-missing")
    before = {b.law for b in cat.basis_on(dt.date(2025, 8, 31))}
    after = {b.law for b in cat.basis_on(dt.date(2025, 9, 1))}
    assert "GB 19272-2011" in before and "GB 19272-2024" not in before
    assert "GB 19272-2024" in after and "GB 19272-2011" not in after
    old = next(b for b in cat.legal_basis if b.law == "GB 19272-2011")
    assert old.citation() == "GB 19272-2011 第5章、第7.1条"
    assert not next(b for b in cat.legal_basis if b.law == "GB 19272-2024").verified


def test_no_service_life_numbers_are_invented():
    """BRIEF §6 Q5: the service-life values are unverified, so none may appear."""
    cat = PACKAGED.get("ft-beyond-service-life")
    for text in (cat.name_zh, cat.recommendation_zh, cat.notes):
        assert not re.search(r"\d+\s*年|[二三四五六七八九十]年", text)


def test_fitness_keeps_the_managing_unit_apart_from_the_organ():
    for cat in PACKAGED.categories("fitness"):
        assert "体育行政部门" in cat.responsible_body
        assert cat.responsible_party and "管理单位" in cat.responsible_party


def test_urgent_defaults():
    assert PACKAGED.get("gw-structural-damage").urgent
    assert not PACKAGED.get("gw-graffiti").urgent


def test_for_layer_kind_and_lookups():
    river = PACKAGED.for_layer_kind("river")
    assert river and {c.domain for c in river} == {"rivers"}
    assert PACKAGED.for_layer_kind("boundary") == ()
    with pytest.raises(InputError, match="road"):
        PACKAGED.for_layer_kind("road")
    with pytest.raises(NotFoundError, match="gw-nope"):
        PACKAGED.get("gw-nope")
    with pytest.raises(InputError, match="forests"):
        PACKAGED.categories("forests")
    assert "gw-graffiti" in PACKAGED and "gw-nope" not in PACKAGED
    assert PACKAGED.domain("rivers").name_zh == "河湖"


# ---- validation ------------------------------------------------------------------------------

BAD_CATEGORIES = [
    ("unknown key", category(colour="red"), "'colour': unknown key"),
    ("missing field", category(name_en=None), "'name_en': missing"),
    ("bad severity", category(severity="severe"), "'severity': 'severe' is not one of"),
    ("bad urgency", category(urgency="asap"), "'urgency': 'asap' is not one of"),
    ("empty basis", category(legal_basis=[]), "'legal_basis': must be a non-empty list"),
    ("missing basis", category(legal_basis=None), "'legal_basis': missing"),
    ("no articles", category(legal_basis=[{"law": "长城保护条例"}]), "'legal_basis[0].articles'"),
    ("empty articles", category(legal_basis=[{"law": "长城保护条例", "articles": []}]),
     "'legal_basis[0].articles': empty"),
    ("bad article", category(legal_basis=[{"law": "长城保护条例", "articles": ["18条"]}]),
     "'legal_basis[0].articles': '18条' is not an article"),
    ("basis key", category(legal_basis=[{"law": "长城保护条例", "articles": ["第十八条"], "art": 1}]),
     "'legal_basis[0].art': unknown key"),
    ("bad date", category(legal_basis=[{"law": "长城保护条例", "articles": ["第十八条"],
                                        "effective_from": "soon"}]),
     "'legal_basis[0].effective_from': 'soon' is not a date"),
    ("english name_zh", category(name_zh="Test"), "'name_zh': must be Chinese text"),
    ("bad slug", category(id="GW Test"), "'id': 'GW Test' is not a stable slug"),
    ("not a bool", category(verified="yes please"), "'verified': must be true or false"),
]


@pytest.mark.parametrize("case, data, expected", BAD_CATEGORIES, ids=[c[0] for c in BAD_CATEGORIES])
def test_bad_category_is_reported_with_file_category_and_field(tmp_path, case, data, expected):
    path = write(tmp_path / "office", "local.yaml", [data])
    problems = check_taxonomy(tmp_path / "office")
    label = "category 'GW Test'" if case == "bad slug" else "category 'gw-test'"
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: {label}: field ")
    assert expected in problems[0]
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_taxonomy(tmp_path / "office")


def test_unknown_layer_kind_names_the_domain_field(tmp_path):
    domain = {"id": "roads", "name_zh": "道路", "name_en": "Roads", "layer_kinds": ["road"]}
    path = write(tmp_path, "roads.yaml", [category(id="rd-pothole")], domain=domain)
    assert check_taxonomy(path) == [
        (f"{path}: domain: field 'layer_kinds': unknown layer kind 'road' "
         f"(expected great_wall, river, fitness_site)")]


def test_duplicate_ids_across_files_of_one_directory(tmp_path):
    write(tmp_path, "a.yaml", [category()])
    second = write(tmp_path, "b.yaml", [category(name_zh="另一个")])
    problems = check_taxonomy(tmp_path)
    assert problems == [(f"{second}: category 'gw-test': field 'id': duplicate id "
                         f"(also in {tmp_path / 'a.yaml'})")]


def test_duplicate_yaml_key_and_unknown_domain_are_reported(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("format: 1\ndomain: great_wall\ndomain: rivers\ncategories: []\n", "utf-8")
    (tmp_path / "z.yaml").write_text(yaml.safe_dump(
        {"domain": "forests", "categories": [category()]}), "utf-8")
    problems = check_taxonomy(tmp_path)
    assert any(p.startswith(f"{dup}: not valid UTF-8 YAML") and "duplicate key 'domain'" in p
               for p in problems)
    assert f"{tmp_path / 'z.yaml'}: field 'domain': unknown domain 'forests'" in "\n".join(problems)


def test_missing_directory_is_a_problem(tmp_path):
    missing = tmp_path / "absent"
    assert check_taxonomy(missing) == [f"{missing}: no such taxonomy file or directory"]


# ---- office overrides ------------------------------------------------------------------------

def test_office_directory_adds_and_overrides_by_id(tmp_path):
    packaged_graffiti = PACKAGED.get("gw-graffiti")
    office = tmp_path / "office"
    path = write(office, "great_wall_local.yaml", [
        category(id="gw-beacon-fire", name_zh="烽火台内生火", name_en="Fires lit in beacon towers"),
        category(id="gw-graffiti", name_zh="刻划、涂污（本院口径）", name_en="Graffiti (local)",
                 severity="high"),
    ])
    taxonomy = load_taxonomy(office)
    graffiti = taxonomy.get("gw-graffiti")
    assert (graffiti.severity, graffiti.name_zh, graffiti.source) == ("high", "刻划、涂污（本院口径）", path)
    assert packaged_graffiti.severity == "medium"  # the packaged object is untouched
    added = taxonomy.get("gw-beacon-fire")
    assert added.domain == "great_wall" and added.layer_kinds == ("great_wall",)
    assert len(taxonomy.categories()) == len(PACKAGED.categories()) + 1
    ids = [c.id for c in taxonomy.categories("great_wall")]
    assert ids.index("gw-graffiti") == [c.id for c in PACKAGED.categories("great_wall")].index(
        "gw-graffiti")  # an override keeps the packaged position
    assert added in taxonomy.for_layer_kind("great_wall")


def test_later_layers_win_over_earlier_ones(tmp_path):
    write(tmp_path / "province", "gw.yaml", [category(id="gw-graffiti", severity="high")])
    write(tmp_path / "county", "gw.yaml", [category(id="gw-graffiti", severity="low")])
    taxonomy = load_taxonomy([tmp_path / "province", tmp_path / "county"])
    assert taxonomy.get("gw-graffiti").severity == "low"


def test_office_may_define_a_new_domain_and_retire_a_category(tmp_path):
    domain = {"id": "gw_tourism", "name_zh": "长城旅游", "name_en": "Great Wall tourism",
              "layer_kinds": ["great_wall"]}
    write(tmp_path, "a_tourism.yaml", [category(id="gwt-overcrowding")], domain=domain)
    write(tmp_path, "b_retire.yaml", [category(id="gw-no-warden", retired=True)])
    taxonomy = load_taxonomy(tmp_path)
    assert taxonomy.get("gwt-overcrowding").domain == "gw_tourism"
    assert taxonomy.get("gw-no-warden").retired
    assert "gw-no-warden" not in {c.id for c in taxonomy.categories()}
    assert "gw-no-warden" in {c.id for c in taxonomy.categories(include_retired=True)}


def test_override_from_another_domain_is_refused(tmp_path):
    path = write(tmp_path, "rivers_local.yaml", [category(id="gw-graffiti")], domain="rivers")
    assert check_taxonomy(tmp_path) == [
        (f"{path}: category 'gw-graffiti': field 'id': overrides a category of domain "
         f"'great_wall' from a file of domain 'rivers'")]


def test_without_packaged_files_a_single_file_loads(tmp_path):
    domain = {"id": "great_wall", "name_zh": "长城", "name_en": "Great Wall",
              "layer_kinds": ["great_wall"]}
    path = write(tmp_path, "only.yaml", [category()], domain=domain)
    taxonomy = load_taxonomy(path, packaged=False)
    assert [c.id for c in taxonomy.categories()] == ["gw-test"]


def test_docs_describe_every_key():
    text = (ROOT / "docs" / "taxonomy.md").read_text(encoding="utf-8")
    keys = (tx.TOP_KEYS | tx.DOMAIN_KEYS | tx.CATEGORY_REQUIRED | tx.CATEGORY_OPTIONAL
            | tx.BASIS_KEYS)
    assert [k for k in sorted(keys) if f"`{k}`" not in text] == []


def test_cli_check_reports_problems_and_lists_categories(tmp_path):
    from click.testing import CliRunner

    from fieldkit.cli import main

    ok = CliRunner().invoke(main, ["taxonomy", "check"])
    assert ok.exit_code == 0 and "taxonomy OK" in ok.output
    bad = tmp_path / "office.yaml"
    bad.write_text("domain: great_wall\ncategories:\n  - id: gw-x\n    name_zh: 测试\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["taxonomy", "check", str(bad)])
    assert result.exit_code == 1 and "office.yaml" in result.output and "gw-x" in result.output
    listed = CliRunner().invoke(main, ["taxonomy", "list", "--domain", "fitness"])
    assert listed.exit_code == 0 and "ft-bolts-loose-missing" in listed.output
