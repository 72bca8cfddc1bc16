"""report(raster=...) lists one layer's spikes as `spiketile report --raster F --raster-layer L` does:
from a Generation's spikes array, read in place, or from the run's --spikes-out file, with the CLI's
checks and messages."""
import json
import subprocess

import numpy as np
import pytest

import spiketile
from conftest import CLI

PROMPT = [3, 17, 42]


@pytest.fixture(scope="module")
def run_files(quick_fortunes, tmp_path_factory):
    """The CLI's run of the quick mapping: its stats and spikes files, and the module's same run."""
    from conftest import run_cli
    mapping, path = quick_fortunes
    folder = tmp_path_factory.mktemp("raster")
    run_cli("run", "--map", path, "--prompt-ids", ",".join(map(str, PROMPT)), "-n", 6, "--temperature", 0,
            "--spikes-out", folder / "spikes.npy", "--stats", folder / "stats.json", "--quiet")
    generation = spiketile.run(mapping, prompt_ids=PROMPT, n=6, temperature=0, spikes=True)
    return folder, generation


def cli_report(folder, *args):
    """`spiketile report` of the run's stats; its JSON, or the error message it ends with."""
    done = subprocess.run([CLI, "report", "--stats", folder / "stats.json", *map(str, args), "--json",
                           folder / "r.json", "--quiet"], capture_output=True, text=True)
    if done.returncode != 0:
        return done.stderr.strip().removeprefix("spiketile: error: ")
    return json.loads((folder / "r.json").read_text())


def test_raster_of_an_array_is_the_clis(run_files):
    folder, generation = run_files
    theirs = cli_report(folder, "--raster", folder / "spikes.npy", "--raster-layer", 1)["raster"]
    for spikes in (generation.spikes, generation.spikes.astype(bool)):
        ours = spiketile.report(generation.stats, chip=spiketile.DEFAULT_CHIP, raster=spikes, raster_layer=1)["raster"]
        assert ours["file"] == "" and ours["layer"] == 1
        assert {**ours, "file": theirs["file"]} == theirs
    assert theirs["spikes_att"] + theirs["spikes_ffn"] > 0


def test_raster_of_a_file_is_the_clis_report(run_files):
    folder, _ = run_files
    theirs = cli_report(folder, "--raster", folder / "spikes.npy", "--raster-layer", 2)
    ours = spiketile.report(str(folder / "stats.json"), raster=folder / "spikes.npy", raster_layer=2)
    assert ours == theirs and ours["raster"]["file"] == str(folder / "spikes.npy")


def test_no_raster_is_null_and_a_layer_without_one_is_refused(run_files):
    folder, generation = run_files
    assert spiketile.report(str(folder / "stats.json"))["raster"] is None
    with pytest.raises(ValueError, match="give raster="):
        spiketile.report(str(folder / "stats.json"), raster_layer=1)


@pytest.mark.parametrize("damage, layer", [
    pytest.param(lambda s: s[:-1], 0, id="another run's step count"),
    pytest.param(lambda s: s[:, :3], 0, id="another model's shape"),
    pytest.param(lambda s: s.astype(np.float32), 0, id="not uint8 or bool"),
    pytest.param(lambda s: np.where(s == 1, 2, s).astype(np.uint8), 0, id="a value that is no spike"),
    pytest.param(lambda s: s, 4, id="a layer the model lacks"),
])
def test_a_raster_that_disagrees_raises_the_clis_message(run_files, damage, layer):
    folder, generation = run_files
    bad = np.ascontiguousarray(damage(generation.spikes))
    np.save(folder / "bad.npy", bad)
    theirs = cli_report(folder, "--raster", folder / "bad.npy", "--raster-layer", layer)
    prefix = f"spike raster {folder / 'bad.npy'}: "
    assert isinstance(theirs, str) and theirs.startswith(prefix)
    with pytest.raises(ValueError) as from_file:
        spiketile.report(str(folder / "stats.json"), raster=str(folder / "bad.npy"), raster_layer=layer)
    assert str(from_file.value) == theirs
    with pytest.raises(ValueError) as from_array:
        spiketile.report(str(folder / "stats.json"), raster=bad, raster_layer=layer)
    assert str(from_array.value) == "spike raster (array): " + theirs[len(prefix):]
