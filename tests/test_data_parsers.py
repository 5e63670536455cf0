"""Split-file parsers under random input: a clear error naming file and line, never a crash."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vbench.data.datasets import _twentybn, diving48, hmdb51, kinetics, listfile, sthv2, ucf101
from vbench.data.records import SplitFileError, load_class_list

TOKENS = st.sampled_from(["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "YoYo/v_YoYo_g01_c01.avi", "1", "2", "0",
                          "-3", "x", "a.avi", "12", "label", "youtube_id", "time_start", "time_end", "split", ";",
                          ",", '"', "YoYo", "1 YoYo", "\t", "", "1e999", "nan", "[", "{", "\x00", "é"])
LINE = st.lists(TOKENS, max_size=5).map(" ".join) | st.text(max_size=40)
TEXT = st.lists(LINE, max_size=8).map(lambda lines: "\r\n".join(lines)) | st.text(max_size=200)
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers(-5, 60) | st.text(max_size=12),
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                              st.sampled_from(["id", "template", "label", "vid_name", "placeholders"]) | st.text(
                                  max_size=5), inner, max_size=4), max_leaves=12)
JSON_TEXT = JSON_VALUE.map(json.dumps) | st.text(max_size=80)
CLASSES = ["ApplyEyeMakeup", "YoYo"]

PARSERS = {
    "classInd.txt": ucf101.read_class_index,
    "trainlist01.txt": lambda p: ucf101.read_list(p, CLASSES, labelled=True),
    "testlist01.txt": lambda p: ucf101.read_list(p, CLASSES, labelled=False),
    "climb_test_split1.txt": hmdb51.read_split_file,
    "jester-v1-labels.csv": _twentybn.read_label_csv,
    "jester-v1-validation.csv": lambda p: _twentybn.read_id_csv(p, {"YoYo": 0, "x": 1}),
    "validate.csv": kinetics.read_csv,
    "val.txt": listfile.read_list,
    "classes.txt": load_class_list,
}
JSON_PARSERS = {
    "labels.json": sthv2.read_labels,
    "validation.json": lambda p: sthv2.read_annotations(p, ["Holding something", "x"]),
    "Diving48_V2_test.json": lambda p: diving48.read_annotations(p, 48),
    "Diving48_vocab.json": diving48.read_vocab,
}


def _parse_or_clear_error(parse, path, text):
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        parse(path)
    except SplitFileError as error:
        message = str(error)
        assert message.startswith(str(path)) and "\n" not in message
        if error.line is not None:
            assert f"line {error.line}:" in message and error.line >= 1


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_text_split_files(tmp_path, name, text):
    _parse_or_clear_error(PARSERS[name], tmp_path / name, text)


@pytest.mark.parametrize("name", sorted(JSON_PARSERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=JSON_TEXT)
def test_json_split_files(tmp_path, name, text):
    _parse_or_clear_error(JSON_PARSERS[name], tmp_path / name, text)


@pytest.mark.parametrize("name, text, message", [
    ("trainlist01.txt", "YoYo/v_YoYo_g01_c01.avi 2\r\nYoYo/v_YoYo_g02_c01.avi\r\n",
     "trainlist01.txt, line 2: expected '<Class>/<video>.avi <label>'"),
    ("testlist01.txt", "Nope/v_Nope_g01_c01.avi\r\n", "line 1: 'Nope/v_Nope_g01_c01.avi' is not under a class folder"),
    ("climb_test_split1.txt", "a.avi 1 \nb.avi 3 \n", "climb_test_split1.txt, line 2: expected '<video>.avi <0|1|2>'"),
    ("validate.csv", "label,youtube_id,time_start,time_end,split\nx,abc,1,x,val\n", "line 2: time_start and time_end"),
    ("val.txt", "a.mp4 1\n\nb.mp4 x\n", "val.txt, line 3: label 'x' is not an integer"),
])
def test_malformed_lines_name_file_and_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SplitFileError, match=message.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        PARSERS[name](path)


def test_crlf_and_trailing_spaces_are_stripped(tmp_path):
    path = tmp_path / "classInd.txt"
    path.write_bytes(b"1 ApplyEyeMakeup\r\n2 YoYo \r\n")
    assert ucf101.read_class_index(path) == CLASSES
