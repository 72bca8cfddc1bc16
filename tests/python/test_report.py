"""report() prices a statistics file exactly as `spiketile report --json` does (the same request,
assembled by the same library function), and to_html() writes the page `report --html` writes."""
import json

import numpy as np
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


def test_report_of_a_stats_dict_is_the_report_of_its_file(nir_stats, tmp_path, cli):
    chip = str(nir_stats) + ".chip.yaml"   # written beside the stats by simulate --stats
    ours = spiketile.report(json.loads(nir_stats.read_text()), chip=chip, gpu="h200")
    cli("report", "--stats", nir_stats, "--chip", chip, "--gpu", "h200", "--json", tmp_path / "r.json", "--quiet")
    theirs = json.loads((tmp_path / "r.json").read_text())
    assert ours["inputs"].pop("stats") == "" and theirs["inputs"].pop("stats") == str(nir_stats)
    assert ours == theirs


def test_report_of_a_simulations_stats(tmp_path):
    inputs = np.load(NIR / "braille_zero.input.npy")
    mapping = spiketile.compile(str(NIR / "braille_zero.nir"), dt=1e-4, calibrate=inputs)
    stats = spiketile.simulate(mapping, input=inputs).stats
    with open(tmp_path / "s.json", "w") as f:
        json.dump(stats, f)
    from_dict = spiketile.report(stats, chip=spiketile.DEFAULT_CHIP)
    from_file = spiketile.report(str(tmp_path / "s.json"), chip=spiketile.DEFAULT_CHIP)
    assert from_dict["inputs"].pop("stats") == "" and from_file["inputs"].pop("stats") == str(tmp_path / "s.json")
    assert from_dict == from_file


def test_a_stats_dict_that_is_not_one_is_a_value_error():
    with pytest.raises(ValueError, match="level"):
        spiketile.report({"format": "spiketile-stats-2"})
