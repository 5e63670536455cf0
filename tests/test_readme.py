from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("```bash")
    end = lines.index("```", start + 1)
    return [line for line in lines[start + 1:end] if line and not line.startswith("#")]


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    main_job, tests = _readme_commands()
    assert main_job.endswith("vbench profile --all") and "pip install" in main_job
    assert "pytest" in tests and "pip install" in tests
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()
