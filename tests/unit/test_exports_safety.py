"""Output hygiene: formula neutralisation, XML-illegal characters, member names, script JSON."""

from __future__ import annotations

import json

import pytest
from openpyxl import Workbook

from fieldkit.errors import InputError
from fieldkit.exports.pack_html import json_for_script
from fieldkit.exports.safety import is_safe_member, neutralise_cell, safe_member_name, strip_xml_illegal
from fieldkit.exports.scope import parse_scope


@pytest.mark.parametrize("text", ["=1+1", "+86 10", "-2", "@SUM(A1)", "\tx", "\rx", "＝HYPERLINK()", "＋1", "－1",
                                  "＠x", '=HYPERLINK("http://evil","点我")'])
def test_formula_like_text_gets_a_quote(text):
    assert neutralise_cell(text) == "'" + strip_xml_illegal(text)


@pytest.mark.parametrize("value", ["长城墙体", "a=b", " =1", "", 12, -105.25, None])
def test_other_values_pass_unchanged(value):
    assert neutralise_cell(value) == value


def test_xml_illegal_characters_are_dropped_so_openpyxl_accepts_them():
    value = neutralise_cell("a\x0bb\x00c\x1f=d")
    assert value == "abc=d"
    Workbook().active.append([value])  # raises IllegalCharacterError with the raw text
    assert neutralise_cell("\x0b=1") == "'=1"


def test_member_names_are_one_safe_component_and_deduplicated():
    used: set[str] = set()
    names = [safe_member_name(n, used) for n in
             ["现场照片.jpg", "现场照片.jpg", "现场照片.JPG", "../../etc/passwd", "C:\\Users\\x\\a.jpg",
              "..", "a\x00b:c*?.jpg", "\u202eexe.jpg", "x" * 300 + ".jpg"]]
    assert names[:3] == ["现场照片.jpg", "现场照片 (2).jpg", "现场照片 (3).JPG"]
    assert names[3] == "passwd" and names[4] == "a.jpg" and names[5] == "photo"
    assert names[6] == "ab_c__.jpg" and names[7] == "exe.jpg"
    assert len(names[8]) <= 120 and names[8].endswith(".jpg")
    assert all(is_safe_member("photos/" + n) for n in names)


@pytest.mark.parametrize("name, ok", [("photos/a.jpg", True), ("manifest.json", True), ("../a", False),
                                      ("photos/../../a", False), ("/etc/passwd", False), ("C:/x", False),
                                      ("a\\b", False), ("photos/", False), ("./a", False), ("photos/现场.jpg", True)])
def test_is_safe_member(name, ok):
    assert is_safe_member(name) is ok


def test_script_json_cannot_close_the_element_and_round_trips():
    data = {"note": "</script><script>alert(1)</script><!-- & \u2028 ${x}"}
    text = json_for_script(data)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == data


def test_parse_scope_reads_and_refuses():
    scope = parse_scope({"inspection": "春季巡查", "kind": "great_wall,river", "from": "2025-05-01",
                         "to": "2025-05-31", "bbox": "116,40,117,41"})
    assert scope.kinds == ("great_wall", "river") and scope.bbox.maxx == 117
    assert "春季巡查" in scope.describe() and "长城" in scope.describe()
    for bad in ({"kind": "lake"}, {"from": "2025-13-01"}, {"from": "2025-06-01", "to": "2025-05-01"},
                {"bbox": "1,2,3"}):
        with pytest.raises(InputError):
            parse_scope(bad)
