"""Official weights by name: the table, the download into torch's hub cache (file:// and a
server on 127.0.0.1 started here), its failures, and eval --weights reproducing a recorded accuracy."""

import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from typer.testing import CliRunner

import vbench
from vbench.cli import app
from vbench.data import VIEW_PRESETS, ViewPreset, ViewSpec
from vbench.errors import VbenchError
from vbench.evaluation.published import published_top1
from vbench.models import registry
from vbench.models.download import DownloadError, RECORD_NAME, fetch_checkpoint
from vbench.models.weights import WEIGHTS, Weights, get_weights, register_weights, unregister_weights

JSON_KEYS = {"name", "model", "url", "source", "dataset", "num_classes", "frames", "protocol", "top1", "sha256",
             "auto"}


# ---------------------------------------------------------------- the table
def test_every_entry_names_a_registered_model_a_known_preset_and_its_source():
    known = set(registry.list_models(aliases=True))
    for entry in WEIGHTS.values():
        assert entry.model in known, entry.name
        assert entry.name.startswith(entry.model + "."), entry.name
        assert entry.protocol is None or entry.protocol in VIEW_PRESETS, entry.name
        assert all(protocol in VIEW_PRESETS for protocol, _ in entry.other_results), entry.name
        assert entry.source and (entry.top1 is not None or entry.notes), entry.name
        if entry.auto:
            assert entry.url.startswith("https://") and entry.url.endswith("/" + entry.filename), entry.name
        else:
            assert entry.page and entry.manual_download_hint().endswith("--checkpoint PATH"), entry.name


def test_the_table_holds_the_readme_figures_where_file_names_disagree_with_the_frames():
    tsn = get_weights("tsn_r50.k400_8f")
    assert "segment5" in tsn.filename and tsn.frames == 8  # the README's table is the source
    assert (tsn.top1, published_top1(tsn, "kinetics-10x3"), published_top1(tsn, "tsm-1x10")) == (68.8, 70.6, 69.9)
    assert get_weights("tsm_r50.sthv2_16f").top1 == 63.1 and get_weights("tsm_r50.sthv2_16f").protocol == "tsm-2x3"
    assert get_weights("tv_r2plus1d_18.k400").url == "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth"
    assert get_weights("tv_r2plus1d_18.k400").top1 == 67.463
    assert get_weights("r2plus1d_r34.ig65m_k400_32f").top1 == 80.0
    assert [w.name for w in WEIGHTS.values() if w.hash_in_name] == ["tv_r2plus1d_18.k400", "tv_r3d_18.k400",
                                                                   "tv_mc3_18.k400"]
    assert not get_weights("tada2d_r50.k400_8f").auto
    ean = get_weights("ean_r50.sthv1_8f")
    assert ean.top1 == 53.4 and ean.protocol is None and published_top1(ean, None) is None  # no preset replicates it


def test_models_weights_json_lists_every_entry_with_the_documented_keys():
    result = CliRunner().invoke(app, ["models", "--weights", "--json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert {e["name"] for e in entries} == set(WEIGHTS)
    assert all(JSON_KEYS <= set(e) for e in entries)
    table = CliRunner().invoke(app, ["models", "tsm*", "--weights"], env={"COLUMNS": "250"})
    assert "tsm_r50.sthv2_16f" in table.stdout and "tada2d" not in table.stdout and "auto" in table.stdout


def test_an_unknown_weights_name_is_one_line_with_close_names():
    with pytest.raises(VbenchError, match=r"unknown weights 'tsm_r50.k400_9f'. Did you mean: tsm_r50.k400_8f"):
        vbench.create_model("tsm_r50", weights="k400_9f")
    result = CliRunner().invoke(app, ["eval", "--weights", "tsm_r50.k400_9f", "--dataset", "synthetic"])
    assert result.exit_code == 2 and "Did you mean: tsm_r50.k400_8f" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_drive_hosted_weights_say_where_to_get_the_file_and_how_to_pass_it():
    with pytest.raises(VbenchError, match=r"tada2d_r50.k400_8f cannot be downloaded automatically \(a drive page\): "
                                          r"download the checkpoint from https://drive.google.com/.* and pass "
                                          r"--checkpoint PATH"):
        vbench.create_model("tada2d_r50", weights="k400_8f")


# ---------------------------------------------------------------- a tiny checkpoint and a local server
CLASSES, FRAMES = 5, 4


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """torch's hub dir inside tmp_path; returns its checkpoints folder."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints"


@pytest.fixture
def tiny(tmp_path):
    """A random-init tsm_r18 state dict with the synthetic dataset's 5 classes: (path, bytes, sha256)."""
    torch.manual_seed(1)
    model = vbench.create_model("tsm_r18", num_classes=CLASSES, num_frames=FRAMES)
    path = tmp_path / "served" / "tsm_r18_tiny.pth"
    path.parent.mkdir()
    torch.save(model.state_dict(), path)
    data = path.read_bytes()
    return path, data, hashlib.sha256(data).hexdigest()


class Server:
    """Serves one file's bytes on 127.0.0.1; ``mode``: "range" (honours Range), "full"
    (ignores it), "truncate" (promises the whole length, sends half). Records Range headers."""

    def __init__(self, data: bytes, mode: str = "range"):
        self.data, self.mode, self.ranges = data, mode, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                start = 0
                asked = self.headers.get("Range")
                server.ranges.append(asked)
                if asked and server.mode == "range":
                    start = int(asked.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(server.data) - 1}/{len(server.data)}")
                else:
                    self.send_response(200)
                body = server.data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2] if server.mode == "truncate" else body)
                if server.mode == "truncate":
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url(name: str) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def tiny_entry(url: str, sha256: str | None = None, top1: float | None = None, name="tsm_r18.synthetic_test"):
    return Weights(name, "tsm_r18", url, "tsm_r18_tiny.pth", "synthetic", CLASSES, FRAMES, 32, "test-tiny", top1,
                   "tests/test_weights.py", sha256=sha256)


@pytest.fixture
def registered():
    names = []

    def register(entry: Weights) -> Weights:
        names.append(entry.name)
        return register_weights(entry, replace=True)

    yield register
    for name in names:
        unregister_weights(name)


def test_a_file_url_lands_in_the_hub_cache_and_loads_through_create_model(hub, tiny, registered):
    path, data, sha = tiny
    registered(tiny_entry(path.as_uri()))
    model = vbench.create_model("tsm_r18", weights="synthetic_test")
    assert (hub / "tsm_r18_tiny.pth").read_bytes() == data
    assert json.loads((hub / RECORD_NAME).read_text()) == {"tsm_r18_tiny.pth": sha}
    saved = torch.load(path)
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert model.vbench_spec.num_classes == CLASSES and model.vbench_spec.num_frames == FRAMES
    assert sorted(p.name for p in hub.iterdir()) == sorted([RECORD_NAME, "tsm_r18_tiny.pth"])


def test_a_partial_file_is_resumed_with_a_range_request(hub, tiny):
    _, data, sha = tiny
    hub.mkdir(parents=True)
    (hub / "tsm_r18_tiny.pth.part").write_bytes(data[:1000])
    with Server(data, "range") as server:
        got = fetch_checkpoint(server.url("tsm_r18_tiny.pth"), "tsm_r18_tiny.pth", sha256=sha)
    assert server.ranges == ["bytes=1000-"] and got.read_bytes() == data
    assert not (hub / "tsm_r18_tiny.pth.part").exists()


def test_a_server_that_ignores_ranges_restarts_the_partial_file(hub, tiny):
    _, data, sha = tiny
    hub.mkdir(parents=True)
    (hub / "tsm_r18_tiny.pth.part").write_bytes(b"x" * 1000)  # not even the file's start
    with Server(data, "full") as server:
        got = fetch_checkpoint(server.url("tsm_r18_tiny.pth"), "tsm_r18_tiny.pth", sha256=sha)
    assert server.ranges == ["bytes=1000-"] and got.read_bytes() == data


def test_a_wrong_checksum_is_one_line_and_leaves_no_file(hub, tiny):
    _, data, _ = tiny
    with Server(data) as server, pytest.raises(DownloadError) as error:
        fetch_checkpoint(server.url("tsm_r18_tiny.pth"), "tsm_r18_tiny.pth", sha256="0" * 64)
    message = str(error.value)
    assert message.startswith(f"checksum mismatch for {server.url('tsm_r18_tiny.pth')}: sha256 ")
    assert "was deleted" in message and "\n" not in message
    assert list(hub.iterdir()) == []


def test_a_recorded_checksum_guards_later_downloads(hub, tiny, tmp_path):
    path, data, sha = tiny
    fetch_checkpoint(path.as_uri(), "tsm_r18_tiny.pth")
    (hub / "tsm_r18_tiny.pth").unlink()
    other = tmp_path / "other.pth"
    other.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # the host now serves another file
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch_checkpoint(other.as_uri(), "tsm_r18_tiny.pth")
    assert sorted(p.name for p in hub.iterdir()) == [RECORD_NAME]


def test_a_truncated_download_is_one_line_and_leaves_no_file(hub, tiny):
    _, data, sha = tiny
    with Server(data, "truncate") as server, pytest.raises(DownloadError) as error:
        fetch_checkpoint(server.url("tsm_r18_tiny.pth"), "tsm_r18_tiny.pth", sha256=sha)
    assert str(error.value).startswith(f"truncated download of {server.url('tsm_r18_tiny.pth')}: ")
    assert f"of {len(data)} bytes after 3 tries" in str(error.value)
    assert list(hub.iterdir()) == []


def test_a_refused_connection_names_the_url_and_the_way_round_and_leaves_no_file(hub, tiny, registered, tmp_path):
    url = closed_port_url("tsm_r18_tiny.pth")
    registered(tiny_entry(url))
    with pytest.raises(DownloadError) as error:
        vbench.create_model("tsm_r18", weights="synthetic_test")
    assert str(error.value).startswith(f"cannot download {url}: ")
    assert str(error.value).endswith("Download it by hand and pass --checkpoint PATH")
    assert not hub.exists() or list(hub.iterdir()) == []
    result = CliRunner().invoke(app, ["eval", "--weights", "tsm_r18.synthetic_test", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert url in result.output and "--checkpoint PATH" in result.output


# ---------------------------------------------------------------- eval --weights reproduces a recorded figure
TINY_VIEWS = ViewPreset("test-tiny", ViewSpec(frames=FRAMES, short_side=32, crop_size=32), "test views", "this test")
EVAL_ARGS = ["--limit", "10", "--workers", "0"]


def test_eval_weights_from_127_0_0_1_reproduces_the_recorded_accuracy_exactly(hub, tiny, registered, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setitem(VIEW_PRESETS, "test-tiny", TINY_VIEWS)
    path, data, sha = tiny
    first = CliRunner().invoke(app, ["eval", "--dataset", "synthetic", "-m", "tsm_r18", "--checkpoint", str(path),
                                     "--protocol", "test-tiny", *EVAL_ARGS, "--out", str(tmp_path / "a"), "--json"])
    assert first.exit_code == 0, first.output
    recorded = json.loads(first.stdout)["top1"]
    with Server(data) as server:
        registered(tiny_entry(server.url("tsm_r18_tiny.pth"), sha256=sha, top1=recorded))
        result = CliRunner().invoke(app, ["eval", "--weights", "tsm_r18.synthetic_test", *EVAL_ARGS,
                                          "--out", str(tmp_path / "b"), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert (record["model"], record["dataset"], record["protocol"], record["frames"]) == \
           ("tsm_r18", "synthetic", "test-tiny", FRAMES)
    assert record["top1"] == recorded and record["expected_top1"] == recorded and record["top1_diff"] == 0.0
    assert record["weights_name"] == "tsm_r18.synthetic_test" and record["checkpoint_sha256"] == sha[:16]
    assert (hub / "tsm_r18_tiny.pth").read_bytes() == data
    table = (tmp_path / "b" / "eval.md").read_text()
    assert "| Published top-1 | Diff |" in table and f"| {recorded:.2f} | {recorded:.2f} | +0.00 |" in table
    report = CliRunner().invoke(app, ["report", "--results", str(tmp_path / "b"), "--dataset", "synthetic"],
                                env={"COLUMNS": "300"})
    assert report.exit_code == 0, report.output
    assert f"tsm_r18.synthetic_test: published top-1 {recorded:.2f}, measured +0.00" in report.stdout


def test_changed_views_record_no_expected_figure_and_say_why(hub, tiny, registered, tmp_path, monkeypatch):
    monkeypatch.setitem(VIEW_PRESETS, "test-tiny", TINY_VIEWS)
    path, _, sha = tiny
    registered(tiny_entry(path.as_uri(), sha256=sha, top1=50.0))
    result = CliRunner().invoke(app, ["eval", "--weights", "tsm_r18.synthetic_test", "--frames", "2", *EVAL_ARGS,
                                      "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["frames"] == 2 and record["expected_top1"] is None and record["top1_diff"] is None
    assert record["expected_note"].startswith("the views differ from the published test-tiny")


def test_weights_of_another_model_are_refused_in_one_line(registered, tiny):
    path, _, _ = tiny
    registered(tiny_entry(path.as_uri()))
    with pytest.raises(VbenchError, match="are for model tsm_r18, not tsn_r18"):
        vbench.create_model("tsn_r18", weights="tsm_r18.synthetic_test")


def test_the_hash_prefix_in_a_torch_hub_file_name_is_checked(hub, tiny, tmp_path):
    path, data, sha = tiny
    good = fetch_checkpoint(path.as_uri(), f"tiny-{sha[:8]}.pth", hash_in_name=True)
    assert good.read_bytes() == data
    with pytest.raises(DownloadError, match=r"checksum mismatch .* where deadbeef\.\.\. was expected"):
        fetch_checkpoint(path.as_uri(), "tiny-deadbeef.pth", hash_in_name=True)
    assert not (hub / "tiny-deadbeef.pth").exists() and not (hub / "tiny-deadbeef.pth.part").exists()


def test_weights_without_a_replicating_preset_record_no_expected_figure(hub, tiny, registered, tmp_path):
    path, _, sha = tiny
    entry = tiny_entry(path.as_uri(), sha256=sha, top1=50.0)
    registered(Weights(**{**entry.as_dict(), "protocol": None, "other_results": (),
                          "notes": "its own loader has no preset"}))
    result = CliRunner().invoke(app, ["eval", "--weights", "tsm_r18.synthetic_test", "--scale-size", "32",
                                      *EVAL_ARGS, "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["size"] == "32x32" and record["expected_top1"] is None and record["top1_diff"] is None
    assert record["expected_note"] == ("no vbench preset replicates the protocol of tsm_r18.synthetic_test's "
                                       "published top-1 (50.0): its own loader has no preset")
