"""Records written side by side into one folder: each writer's record is kept."""

import json
import subprocess
import sys
import textwrap

from vbench.results import RecordStore

WRITER = textwrap.dedent("""
    import sys
    from vbench.results import RecordStore
    folder, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for run in range(first, first + count):
        RecordStore(folder, "train", ("run_id",)).put({"run_id": f"run{run}", "top1": run})
""")


def test_a_put_keeps_what_another_store_wrote_since_it_was_opened(tmp_path):
    early = RecordStore(tmp_path, "train", ("run_id",))  # opened before the other writer's record exists
    RecordStore(tmp_path, "train", ("run_id",)).put({"run_id": "a", "top1": 1})
    early.put({"run_id": "b", "top1": 2})
    assert [r["run_id"] for r in json.loads((tmp_path / "train.json").read_text())] == ["a", "b"]


def test_processes_writing_into_one_folder_lose_no_record(tmp_path):
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(first), "40"])
               for first in (0, 100, 200)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    kept = {r["run_id"] for r in json.loads((tmp_path / "train.json").read_text())}
    assert kept == {f"run{i}" for first in (0, 100, 200) for i in range(first, first + 40)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv", "train.json"]  # no lock file left
