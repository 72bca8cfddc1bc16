"""LIF records as NumPy arrays: Generation.spikes and Generation.membranes are the arrays
`--spikes-out` and `--membranes-out` write, on the mapping executor, the SystemC chip (whose child
sends them through its pipe) and the integer model; results reach Python without a copy."""
import numpy as np
import pytest

import spiketile
from conftest import MODEL, NIR

PROMPT = [3, 17, 42]
# Each record: the CLI's flag and the array's dtype.
RECORDS = {"spikes": ("--spikes-out", np.uint8), "membranes": ("--membranes-out", np.float32)}


def cli_records(cli, folder, *source):
    flags = [a for name, (flag, _) in RECORDS.items() for a in (flag, folder / f"{name}.npy")]
    cli(*source, "--prompt-ids", ",".join(map(str, PROMPT)), "-n", 5, "--temperature", 0, *flags, "--quiet")
    return {name: np.load(folder / f"{name}.npy") for name in RECORDS}


def assert_same_records(mine, theirs):
    for name, (_, dtype) in RECORDS.items():
        ours = getattr(mine, name)
        assert ours.dtype == theirs[name].dtype == dtype
        assert ours.shape == theirs[name].shape == (len(PROMPT) + 5, 4, 2, 192)
        assert np.array_equal(ours, theirs[name])
        assert np.unique(theirs[name]).size > 1   # a record, not a constant
    # Both records of one run, each in its place: a spike leaves its membrane at 0.
    assert not mine.membranes[mine.spikes == 1].any()


def test_executor_records_are_the_clis(quick_fortunes, tmp_path, cli):
    mapping, path = quick_fortunes
    mine = spiketile.run(mapping, prompt_ids=PROMPT, n=5, temperature=0, spikes=True, membranes=True)
    assert_same_records(mine, cli_records(cli, tmp_path, "run", "--map", path))


def test_chip_records_are_the_clis(quick_fortunes, tmp_path, cli):
    mapping, path = quick_fortunes
    mine = spiketile.simulate(mapping, prompt_ids=PROMPT, n=5, temperature=0, spikes=True, membranes=True)
    assert_same_records(mine, cli_records(cli, tmp_path, "simulate", "--map", path))


def test_quantized_records_are_the_clis(tmp_path, cli):
    mine = spiketile.run(str(MODEL), level="quantized", prompt_ids=PROMPT, n=5, temperature=0, spikes=True,
                         membranes=True)
    assert_same_records(mine, cli_records(cli, tmp_path, "run", "--quantized", "--model", MODEL))


def test_golden_records_are_the_clis(tmp_path, cli):
    mine = spiketile.run(str(MODEL), prompt_ids=PROMPT, n=5, temperature=0, spikes=True, membranes=True)
    assert_same_records(mine, cli_records(cli, tmp_path, "run", "--model", MODEL))


def test_records_are_kept_only_when_asked_for(quick_fortunes):
    mapping, _ = quick_fortunes
    plain = spiketile.run(mapping, prompt_ids=PROMPT, n=2, temperature=0)
    assert plain.spikes is None and plain.membranes is None
    only_spikes = spiketile.simulate(mapping, prompt_ids=PROMPT, n=2, temperature=0, spikes=True)
    assert only_spikes.spikes is not None and only_spikes.membranes is None
    only_membranes = spiketile.simulate(mapping, prompt_ids=PROMPT, n=2, temperature=0, membranes=True)
    assert only_membranes.spikes is None and only_membranes.membranes.shape == (len(PROMPT) + 2, 4, 2, 192)


@pytest.mark.parametrize("record", RECORDS)
def test_records_are_refused_for_a_nir_graph(record):
    graph = spiketile.load_model(str(NIR / "braille_subtract.nir"))
    inputs = np.load(NIR / "braille_subtract.input.npy")[:2]
    with pytest.raises(ValueError, match=f"{record}=True records SpikeGPT's LIF {record}; a NIR graph's run"):
        spiketile.run(graph, input=inputs, dt=1e-4, **{record: True})
    braille = spiketile.compile(graph, dt=1e-4, reset="subtract", calibrate=inputs)
    with pytest.raises(ValueError, match=f"{record}=True .* a NIR graph's simulation returns its output"):
        spiketile.simulate(braille, input=inputs, **{record: True})


def test_arrays_view_the_results_memory_without_a_copy(quick_fortunes):
    mapping, _ = quick_fortunes
    for result in (spiketile.run(mapping, prompt_ids=PROMPT, n=2, temperature=0, spikes=True, membranes=True),
                   spiketile.simulate(mapping, prompt_ids=PROMPT, n=2, temperature=0, spikes=True, membranes=True)):
        for array in (result.logits, result.spikes, result.membranes):
            # Not an array numpy allocated and filled: a view of the vector the result was made in.
            assert not array.flags.owndata and array.base is not None
            assert array.flags.c_contiguous
