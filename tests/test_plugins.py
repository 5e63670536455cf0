"""A user's own model in every command: plugins, entry points, records, reports, errors."""

import hashlib
import json
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import vbench
from vbench import plugins
from vbench.cli import app
from vbench.errors import PluginError
from vbench.models.contract import ModelContractError, check_contract
from vbench.models import registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "my_temporal_model.py"
runner = CliRunner()

SIBLING = '''
"""A learnable temporal mix: depthwise conv over time with a bias (4 parameters a channel)."""
from torch import nn


class TemporalMix(nn.Module):
    def __init__(self, channels, num_frames):
        super().__init__()
        self.num_frames = num_frames
        self.conv = nn.Conv1d(channels, channels, 3, padding=1, groups=channels, bias=True)

    def forward(self, x):
        nt, c, h, w = x.shape
        n, t = nt // self.num_frames, self.num_frames
        y = x.view(n, t, c, h, w).permute(0, 3, 4, 2, 1).reshape(n * h * w, c, t)
        return self.conv(y).view(n, h, w, c, t).permute(0, 4, 3, 1, 2).reshape(nt, c, h, w)
'''

PLUGIN = '''
"""A user's model: TSN's trunk with a temporal mix before every block's spatial conv."""
import vbench
from vbench.models.resnet import BlockPlugins, video_resnet

from {sibling} import TemporalMix


@vbench.register_model(method="TinyMix", paper="unpublished", year=2025, family="mine", depths=(18, 34),
                       frames=4, size=(32, 32), num_classes=5, classifier="head.fc")
def tinymix_r18(num_classes=5, num_frames=4, depth=18, dropout=0.0, **options):
    mix = BlockPlugins(mid=lambda spec: TemporalMix(spec.width, spec.num_frames))
    return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                        plugins=mix, **options)
'''


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch, tmp_path):
    """Each test registers into a copy of the registry and forgets its plugins afterwards."""
    registry._load_model_files()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))
    monkeypatch.setattr(registry, "_CONTRACT_CHECKED", set())
    monkeypatch.setattr(plugins, "_loaded", {})
    monkeypatch.setattr(plugins, "_specs", [])
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        path = getattr(sys.modules[name], "__file__", None) or ""
        if name.startswith("vbench_plugin_") or str(tmp_path) in path:
            del sys.modules[name]


@pytest.fixture
def plugin_file(tmp_path):
    """A plugin file in its own folder that imports a sibling module (named uniquely per test)."""
    folder = tmp_path / "mine"
    folder.mkdir()
    sibling = f"temporal_mix_{abs(hash(str(tmp_path))) % 10**8}"
    (folder / f"{sibling}.py").write_text(SIBLING)
    path = folder / "tinymix.py"
    path.write_text(PLUGIN.format(sibling=sibling))
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def resnet18_params(num_classes: int) -> int:
    """ResNet-18's parameter count by hand: conv weights (no bias), BN (weight, bias), fc."""
    total = 3 * 64 * 7 * 7 + 2 * 64  # stem conv + bn
    inputs = 64
    for width in (64, 128, 256, 512):
        for block in range(2):
            total += inputs * width * 9 + width * width * 9 + 2 * 2 * width  # two 3x3 convs and their BNs
            if inputs != width:
                total += inputs * width + 2 * width  # 1x1 projection shortcut and its BN
            inputs = width
    return total + 512 * num_classes + num_classes


def one_line_error(result, *parts):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for part in parts:
        assert part in lines[0], lines[0]


def test_resnet18_hand_count_is_torchvisions():
    assert resnet18_params(1000) == 11_689_512  # torchvision's resnet18, as its weights' metadata says


def test_register_model_is_public_and_marks_the_model_as_a_users(plugin_file):
    plugins.load_plugin(plugin_file)
    info = vbench.model_info("tinymix_r34")  # a depth alias, as the zoo's
    assert (info.method, info.paper, info.source, info.depth, info.family) == ("TinyMix", "unpublished", "user",
                                                                               34, "mine")
    assert vbench.model_info("tsm_r50").source == "zoo" and vbench.register_model is registry.register_model
    model = vbench.create_model("tinymix_r18")
    assert model(torch.randn(2, 3, 4, 32, 32)).shape == (2, 5)


def test_models_command_lists_the_plugins_model_as_a_users(plugin_file):
    result = invoke("models", "--plugin", plugin_file, "--json")
    assert result.exit_code == 0, result.output
    infos = {i["name"]: i for i in json.loads(result.output)}
    assert infos["tinymix_r18"]["source"] == "user" and infos["tsm_r50"]["source"] == "zoo"
    result = invoke("models", "--plugin", plugin_file, "tiny*")
    assert "tinymix_r18" in result.output and "user (tinymix.py)" in result.output
    result = invoke("models", "--plugin", plugin_file, "tinymix_r18")  # the details say "source: user"
    assert any(line.split() == ["│", "source", "│", "user", "│"] for line in result.output.splitlines())


def test_profile_measures_the_plugins_model_params_by_hand_count(plugin_file, tmp_path):
    result = invoke("profile", "--plugin", plugin_file, "-m", "tinymix_r18", "-m", "tsn_r18", "--frames", 8,
                    "--size", 224, "--num-classes", 5, "--metrics", "params,flops", "--out", tmp_path / "p", "--json")
    assert result.exit_code == 0, result.output
    records = {r["model"]: r for r in json.loads(result.stdout)}
    mine, tsn = records["tinymix_r18"], records["tsn_r18"]
    blocks_inputs = 64 + 64 + 64 + 128 + 128 + 256 + 256 + 512  # the spatial conv's input width, block by block
    expected = resnet18_params(5) + 4 * blocks_inputs  # 11,179,077 + 5,888: 3 weights and a bias a channel
    assert expected == 11_184_965
    assert sum(p.numel() for p in vbench.create_model("tinymix_r18").parameters()) == expected
    assert mine["params_m"] == round(expected / 1e6, 4) and tsn["params_m"] == round(resnet18_params(5) / 1e6, 4)
    # the temporal mix's MACs: 3 per value entering each block's spatial conv, 8 frames of 224x224, 1 clip
    maps = [56, 56, 56, 28, 28, 14, 14, 7]  # each block's input map: stem /4, then the stage strides
    extra = sum(3 * c * 8 * m * m for c, m in zip([64, 64, 64, 128, 128, 256, 256, 512], maps))
    assert extra == 22_278_144
    assert mine["gflops"] - tsn["gflops"] == pytest.approx(extra / 1e9, abs=1.1e-4)  # records round to 1e-4
    assert (mine["model_source"], tsn["model_source"]) == ("user", "zoo")


def test_fingerprint_covers_the_plugin_file_and_its_sibling(plugin_file):
    from vbench.fingerprint import model_sources

    plugins.load_plugin(plugin_file)
    sources = model_sources(vbench.create_model("tinymix_r18"))
    sibling = next(plugin_file.parent.glob("temporal_mix_*.py"))
    assert sources["tinymix.py"] == hashlib.sha1(plugin_file.read_bytes()).hexdigest()[:16]
    assert sources[sibling.name] == hashlib.sha1(sibling.read_bytes()).hexdigest()[:16]
    assert "vbench/models/resnet.py" in sources


def test_cpu_memory_probe_rebuilds_the_plugins_model_in_a_fresh_process(plugin_file, tmp_path):
    result = invoke("profile", "--plugin", plugin_file, "-m", "tinymix_r18", "--metrics", "memory",
                    "--out", tmp_path / "p", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)[0]
    assert record["status"] == "ok" and record["peak_memory_mb"] > 0, record["error"]


@pytest.mark.parametrize("which", ["tmp plugin", "shipped example"])
def test_train_eval_report_and_plot_include_the_users_model(which, plugin_file, tmp_path):
    """A user's model through train, eval (with the trained weights), profile, report and plot."""
    plugin, name = (plugin_file, "tinymix_r18") if which == "tmp plugin" else (EXAMPLE, "mytm_r18")
    out = tmp_path / "runs"
    setting = ["--frames", 4, "--size", 16, "--scale-size", 16, "-o", "size=16", "-o", "videos_per_class=2"]
    result = invoke("train", "--plugin", plugin, "--dataset", "synthetic", "-m", name, *setting, "--epochs", 1,
                    "--batch-size", 5, "--workers", 0, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout)
    assert trained["model"] == name and trained["model_source"] == "user" and trained["videos"] == 10
    result = invoke("eval", "--plugin", plugin, "--dataset", "synthetic", "-m", name, *setting,
                    "--checkpoint", trained["checkpoint"], "--workers", 0, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    evaluated = json.loads(result.stdout)
    assert evaluated["model_source"] == "user" and evaluated["videos"] == 10
    assert evaluated["top1"] == pytest.approx(trained["top1"])  # the same weights, views and videos
    result = invoke("profile", "--plugin", plugin, "-m", name, "-m", "tsn_r18", "--frames", 4, "--size", 16,
                    "--num-classes", 5, "--metrics", "params,flops", "--out", out, "--json")
    assert result.exit_code == 0, result.output

    result = invoke("report", "--plugin", plugin, "--results", out, "--dataset", "synthetic", "--format", "md",
                    "--format", "csv")
    assert result.exit_code == 0, result.output
    markdown = (out / "report-synthetic.md").read_text()
    # (a record made from a tree with uncommitted changes carries the provenance mark)
    rows = [line for line in markdown.splitlines() if f"| {name} |" in line or f"| {name}\u00a7 |" in line]
    assert len(rows) == 2 and all("(user)" in row for row in rows)  # the train and the eval record
    assert "user_model" in (out / "report-synthetic.csv").read_text().splitlines()[0]

    result = invoke("plot", "--plugin", plugin, "--results", out, "--dataset", "synthetic", "--kind", "gflops",
                    "--highlight", name, "--image-format", "png")
    assert result.exit_code == 0, result.output
    assert (out / "accuracy_vs_gflops-synthetic.png").stat().st_size > 1000
    from vbench.reporting import plots
    from vbench.reporting.comparison import build_comparison
    from vbench.reporting.report import load_results

    figure = plots.accuracy_vs_gflops(build_comparison(*load_results(out), dataset="synthetic"), "synthetic",
                                      highlight=(name,))
    marked = [c for c in figure.axes[0].collections if c.get_gid() == f"{name}|measured|measured"]
    assert marked and all(c.get_linewidths()[0] == 2.0 for c in marked)  # drawn as the highlighted model
    assert any(t.get_fontweight() == "bold" for t in figure.axes[0].texts)


def test_example_starts_as_tsm(tmp_path):
    """The shipped example's temporal conv starts as TSM's shift: TSM's weights give TSM's logits."""
    plugins.load_plugin(EXAMPLE)
    mine, tsm = vbench.create_model("mytm_r18", num_frames=4).eval(), vbench.create_model("tsm_r18", num_frames=4)
    report = mine.load_state_dict(tsm.state_dict(), strict=False)
    assert not report.unexpected_keys and all(".pre.conv." in k for k in report.missing_keys)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.allclose(mine(x), tsm.eval()(x), atol=1e-5)
    extra = sum(p.numel() for p in mine.parameters()) - sum(p.numel() for p in tsm.parameters())
    assert extra == 3 * (64 + 64 + 64 + 128 + 128 + 256 + 256 + 512) == 4416  # as its docstring says


def test_a_broken_plugin_is_one_line_naming_the_file_and_the_error(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import vbench\n\n\nraise RuntimeError('no weights here')\n")
    result = invoke("models", "--plugin", broken)
    one_line_error(result, "plugin", "broken.py", "failed to import", "RuntimeError: no weights here",
                   "line 4")
    typo = tmp_path / "typo.py"
    typo.write_text("def f(:\n    pass\n")
    one_line_error(invoke("profile", "--plugin", typo, "-m", "tsm_r18"), "typo.py", "SyntaxError", "line 1")
    one_line_error(invoke("eval", "--plugin", tmp_path / "missing.py"), "missing.py", "no such file")
    one_line_error(invoke("report", "--plugin", "no_such_module_xyz"), "no_such_module_xyz",
                   "no such file or importable module")
    with pytest.raises(PluginError) as caught:  # the traceback stays with the error, for a debug view
        plugins.load_plugin(broken)
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_a_name_of_the_zoo_is_refused_with_the_reason(tmp_path):
    clash = tmp_path / "clash.py"
    clash.write_text(textwrap.dedent('''
        import vbench

        @vbench.register_model(method="Mine", paper="unpublished", year=2025)
        def tsm_r50(num_classes=400, num_frames=8):
            raise AssertionError("never built")
    '''))
    one_line_error(invoke("models", "--plugin", clash), "clash.py", "'tsm_r50' is taken by the zoo's TSM model",
                   "rename yours")
    alias = tmp_path / "alias.py"  # a depth alias of the user's that is a zoo name
    alias.write_text(clash.read_text().replace("def tsm_r50", "def tea_r500").replace(
        'year=2025)', 'year=2025, depths=(18, 50))'))
    one_line_error(invoke("models", "--plugin", alias), "'tea_r18' is taken by the zoo's TEA model")
    assert vbench.model_info("tsm_r50").method == "TSM"


def test_a_plugin_given_as_a_path_and_as_a_module_registers_once(plugin_file, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_file.parent))
    result = invoke("models", "--plugin", plugin_file, "--plugin", "tinymix", "--plugin",
                    plugin_file.parent / ".." / "mine" / "tinymix.py", "--json")
    assert result.exit_code == 0, result.output
    assert [i["name"] for i in json.loads(result.output)].count("tinymix_r18") == 1
    import tinymix  # noqa: F401  Python's own import runs the file again: the same file, no clash

    assert vbench.model_info("tinymix_r18").source == "user"
    second = plugin_file.parent.parent / "other.py"
    second.write_text(plugin_file.read_text())
    with pytest.raises(PluginError, match="registered twice, in .*tinymix.py and in .*other.py: rename one"):
        plugins.load_plugin(second)


def test_a_module_imported_by_name_is_not_imported_again_by_path(plugin_file, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_file.parent))
    import tinymix

    assert plugins.load_plugin(plugin_file) is tinymix and plugins.load_plugin("tinymix") is tinymix


def _install_dist(site: Path, module: str, source: str, dist: str = "mytm_models") -> None:
    """A package as pip installs it: a module and a .dist-info with its entry points."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[vbench.models]\nmytm = {module}\n")


def test_an_installed_packages_entry_point_is_loaded_by_every_command(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _install_dist(site, "mytm_installed", EXAMPLE.read_text())
    monkeypatch.syspath_prepend(str(site))
    result = invoke("models", "mytm*", "--json")  # no --plugin: the entry point registers it
    assert result.exit_code == 0, result.output
    assert [i["name"] for i in json.loads(result.output)] == ["mytm_r50"]
    assert vbench.model_info("mytm_r50").source == "user"
    environment = json.loads(plugins.child_environment("mytm_r50")[plugins.ENV])
    assert environment["entry_points"] is True and str(site) in environment["path"]


def test_a_broken_entry_point_is_one_line_naming_it(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _install_dist(site, "mytm_broken", "import no_such_dependency_xyz\n", dist="broken_models")
    monkeypatch.syspath_prepend(str(site))
    one_line_error(invoke("models"), "entry point 'mytm = mytm_broken'", "package broken_models",
                   "ModuleNotFoundError", "no_such_dependency_xyz")


def _documented_commands() -> list[list[str]]:
    """The ``vbench`` command lines of docs/your-model.md and README's "Your model in the table"."""
    import shlex

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Your model in the table"):]
    section = section[:section.index("\n## ", 1)]
    lines = (ROOT / "docs" / "your-model.md").read_text().splitlines() + section.splitlines()
    commands = []
    for line in lines:
        line = line.split("  #")[0].strip()
        if line.startswith("vbench "):
            for part in line.split(" && "):
                commands.append(shlex.split(part)[1:])
    return commands


def test_the_documented_commands_name_options_that_exist():
    """Every command line of the walk-through and of README's section names a command and options that
    exist (with --help appended, the parser rejects an unknown option before it shows the help)."""
    commands = _documented_commands()
    assert {c[0] for c in commands} >= {"models", "train", "profile", "report", "plot"}
    for args in commands:
        assert "--plugin" in args, args
        result = runner.invoke(app, args + ["--help"])
        assert result.exit_code == 0, f"vbench {' '.join(args)}: {result.output}"
    result = runner.invoke(app, ["plot", "--plugin", "x.py", "--hilight", "mytm_r18", "--help"])
    assert result.exit_code == 2 and "No such option" in result.output  # the check can fail


def test_a_plugin_model_that_breaks_the_model_contract_stops_with_one_line(tmp_path):
    broken = tmp_path / "nohead.py"
    broken.write_text(textwrap.dedent('''
        import torch
        from torch import nn
        import vbench

        class Net(nn.Module):
            def __init__(self, num_classes):
                super().__init__()
                self.fc = nn.Linear(3, num_classes)

            def forward(self, x):
                return self.fc(x.mean((2, 3, 4)))

        @vbench.register_model(method="NoHead", paper="unpublished", year=2025, frames=2, size=(16, 16),
                               classifier="fc")
        def nohead_net(num_classes=4, num_frames=2):
            return Net(num_classes)

        @vbench.register_model(method="NoName", paper="unpublished", year=2025, frames=2, size=(16, 16))
        def noname_net(num_classes=4, num_frames=2):
            return Net(num_classes)
    '''))
    result = invoke("profile", "--plugin", broken, "-m", "nohead_net", "--metrics", "params", "--out", tmp_path / "runs")
    assert result.exit_code == 1 and "Traceback" not in result.output  # profile records the failure as its row
    assert "failed: model 'nohead_net' breaks vbench's model contract" in result.output
    with pytest.raises(ModelContractError) as caught:
        vbench.create_model("nohead_net")
    assert str(caught.value) == ("model 'nohead_net' breaks vbench's model contract: it has no forward_features, "
                                 "forward_head, reset_classifier (see docs/your-model.md)")
    with pytest.raises(ModelContractError, match="'noname_net' breaks vbench's model contract"):
        vbench.create_model("noname_net")
    # the shipped example keeps it, classifier named
    plugins.load_plugin(EXAMPLE)
    model = vbench.create_model("mytm_r18", num_classes=3, num_frames=2).eval()
    check_contract(model, vbench.model_info("mytm_r18"), torch.randn(1, 3, 2, 32, 32))


def _vbench_sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted((ROOT / "vbench").rglob("*.py"))}


def test_a_new_method_inside_the_residual_block_needs_no_edit_of_vbench(tmp_path, monkeypatch):
    """A toy method in a tmp package (its temporal module, its model file): registered, built,
    held to the model contract and profiled, with every file of vbench left as it was."""
    before = _vbench_sources()
    package = tmp_path / "toymethod"
    package.mkdir()
    (package / "__init__.py").write_text("from toymethod import model  # noqa: F401\n")
    (package / "temporal.py").write_text(SIBLING)
    (package / "model.py").write_text(textwrap.dedent('''
        import vbench
        from vbench.models.resnet import BlockPlugins, video_resnet

        from toymethod.temporal import TemporalMix


        @vbench.register_model(method="Toy", paper="unpublished", year=2026, family="toy", depths=(18, 50),
                               frames=4, size=(32, 32), num_classes=6, classifier="head.fc")
        def toy_r18(num_classes=6, num_frames=4, depth=18, dropout=0.0, **options):
            mix = BlockPlugins(post=lambda spec: TemporalMix(spec.out_channels, spec.num_frames))
            return video_resnet(depth=depth, num_classes=num_classes, num_frames=num_frames, dropout=dropout,
                                plugins=mix, **options)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    vbench.load_plugins(["toymethod"], entry_points=False)
    model = vbench.create_model("toy_r18").eval()
    plain = vbench.create_model("tsn_r18", num_classes=6, num_frames=4)
    mixes = sum(1 for m in model.modules() if type(m).__name__ == "TemporalMix")
    assert mixes == 8  # one after every block of the depth-18 trunk
    assert sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in plain.parameters()) == \
        sum(4 * (m.conv.in_channels) for m in model.modules() if type(m).__name__ == "TemporalMix")
    features = check_contract(model, vbench.model_info("toy_r18"), torch.randn(2, 3, 4, 32, 32))
    assert features.shape == (2, 512, 4, 1, 1)
    from vbench.profiling.runner import ProfileSettings

    [record] = vbench.profile(["toy_r18"], ProfileSettings(metrics=("params", "flops")), out_dir=None)
    assert record["status"] == "ok" and record["model_source"] == "user" and record["gflops"] > 0
    assert _vbench_sources() == before
