"""docs/python.md's worked session runs as written: every ```python block, in order, in one
namespace, from a folder laid out as the repository root (its inputs linked in, its outputs kept
out of the checkout)."""
import os
import re

from conftest import SOURCE


def test_worked_session_runs_as_written(tmp_path, monkeypatch):
    text = (SOURCE / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    for folder in ("models", "chips", "tests"):
        os.symlink(SOURCE / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, "docs/python.md", "exec"), namespace)
    assert (tmp_path / "fortunes.stmap").stat().st_size > 0
    assert namespace["outputs"].shape == (50, 4)
    assert "<h2>Verdict" in (tmp_path / "fortunes-report.html").read_text()
    assert 'id="chart-raster"' in (tmp_path / "story-report.html").read_text()
    assert len(namespace["energy_per_layer"]) >= 5   # four layers, the global ops and the network
