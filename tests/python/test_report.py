"""report() prices a statistics file exactly as `spiketile report --json` does (the same request,
assembled by the same library function), and to_html() writes the page `report --html` writes."""
import json

import pytest

import spiketile
from conftest import NIR


@pytest.fixture(scope="module")
def nir_stats(tmp_path_factory):
    from conftest import run_cli
    folder = tmp_path_factory.mktemp("report")
    run_cli("compile", "--nir", NIR / "braille_zero.nir", "--dt", "1e-4", "--calibrate", NIR / "braille_zero.input.npy",
            "-o", folder / "b.stmap")
    run_cli("simulate", "--map", folder / "b.stmap", "--input", NIR / "braille_zero.input.npy", "--stats",
            folder / "s.json", "--quiet")
    return folder / "s.json"


def test_report_is_the_clis_json(nir_stats, tmp_path, cli):
    ours = spiketile.report(str(nir_stats), gpu="h200", batch=4)
    cli("report", "--stats", nir_stats, "--gpu", "h200", "--batch", "4", "--json", tmp_path / "r.json", "--quiet")
    theirs = json.loads((tmp_path / "r.json").read_text())
    assert ours == theirs
    assert ours["kind"] == "nir"
    assert [t["name"] for t in ours["chip"]["side_by_side"]] == ["45nm-horowitz", "default", "loihi"]


def test_to_html_writes_the_clis_page(nir_stats, tmp_path, cli):
    spiketile.to_html(spiketile.report(str(nir_stats)), str(tmp_path / "ours.html"))
    cli("report", "--stats", nir_stats, "--html", tmp_path / "theirs.html", "--quiet")
    page = (tmp_path / "ours.html").read_text()
    assert page == (tmp_path / "theirs.html").read_text()
    assert "<h2>Per population" in page


def test_a_missing_stats_file_and_an_unknown_gpu_are_errors_naming_them(nir_stats, tmp_path):
    with pytest.raises(Exception, match="nothing.json"):
        spiketile.report(str(tmp_path / "nothing.json"))
    with pytest.raises(ValueError, match="known GPUs: h100, h200"):
        spiketile.report(str(nir_stats), gpu="v100")
