"""Spike rasters as NumPy arrays: Generation.spikes is the array `--spikes-out` writes, on the
mapping executor, the SystemC chip and the integer model; results reach Python without a copy."""
import numpy as np
import pytest

import spiketile
from conftest import MODEL

PROMPT = [3, 17, 42]


def cli_spikes(cli, folder, *source):
    cli(*source, "--prompt-ids", ",".join(map(str, PROMPT)), "-n", 5, "--temperature", 0, "--spikes-out",
        folder / "spikes.npy", "--quiet")
    return np.load(folder / "spikes.npy")


def assert_same_raster(mine, theirs):
    assert mine.dtype == theirs.dtype == np.uint8
    assert mine.shape == theirs.shape == (len(PROMPT) + 5, 4, 2, 192)
    assert np.array_equal(mine, theirs)
    assert theirs.any() and not theirs.all()   # a raster, not a constant


def test_executor_spikes_are_the_clis(quick_fortunes, tmp_path, cli):
    mapping, path = quick_fortunes
    mine = spiketile.run(mapping, prompt_ids=PROMPT, n=5, temperature=0, spikes=True)
    assert_same_raster(mine.spikes, cli_spikes(cli, tmp_path, "run", "--map", path))


def test_chip_spikes_are_the_clis(quick_fortunes, tmp_path, cli):
    mapping, path = quick_fortunes
    mine = spiketile.simulate(mapping, prompt_ids=PROMPT, n=5, temperature=0, spikes=True)
    assert_same_raster(mine.spikes, cli_spikes(cli, tmp_path, "simulate", "--map", path))


def test_quantized_spikes_are_the_clis(tmp_path, cli):
    mine = spiketile.run(str(MODEL), level="quantized", prompt_ids=PROMPT, n=5, temperature=0, spikes=True)
    assert_same_raster(mine.spikes, cli_spikes(cli, tmp_path, "run", "--quantized", "--model", MODEL))


def test_spikes_are_kept_only_when_asked_for(quick_fortunes):
    mapping, _ = quick_fortunes
    assert spiketile.run(mapping, prompt_ids=PROMPT, n=2, temperature=0).spikes is None
    with pytest.raises(ValueError, match="spikes=True"):
        spiketile.run(spiketile.load_model(str(MODEL.parent.parent / "tests/data/nir/braille_subtract.nir")),
                      input=np.zeros((2, 12)), dt=1e-4, spikes=True)


def test_arrays_view_the_results_memory_without_a_copy(quick_fortunes):
    mapping, _ = quick_fortunes
    for result in (spiketile.run(mapping, prompt_ids=PROMPT, n=2, temperature=0, spikes=True),
                   spiketile.simulate(mapping, prompt_ids=PROMPT, n=2, temperature=0, spikes=True)):
        for array in (result.logits, result.spikes):
            # Not an array numpy allocated and filled: a view of the vector the result was made in.
            assert not array.flags.owndata and array.base is not None
            assert array.flags.c_contiguous
