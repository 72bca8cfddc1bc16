"""simulate on the SystemC chip: each call in its own child process, so one session simulates again
and again; the outputs are the CLI's bit for bit and the statistics are the CLI's stats file."""
import json

import numpy as np
import pytest

import spiketile
from conftest import NIR


@pytest.fixture(scope="module")
def braille(tmp_path_factory):
    inputs = np.load(NIR / "braille_subtract.input.npy")
    mapping = spiketile.compile(str(NIR / "braille_subtract.nir"), dt=1e-4, reset="subtract", calibrate=inputs)
    path = tmp_path_factory.mktemp("braille") / "braille.stmap"
    mapping.save(str(path))
    return mapping, inputs, path


def test_chip_outputs_and_stats_are_the_clis(braille, tmp_path, cli):
    mapping, inputs, path = braille
    result = spiketile.simulate(mapping, input=inputs)
    cli("simulate", "--map", path, "--input", NIR / "braille_subtract.input.npy", "--output", tmp_path / "chip.npy",
        "--stats", tmp_path / "s.json")
    expected = np.load(tmp_path / "chip.npy")
    assert result.outputs.shape == expected.shape == (50, 4)
    assert result.outputs.tobytes() == expected.tobytes()
    theirs = json.loads((tmp_path / "s.json").read_text())
    # Everything but where the chip description lies: the CLI writes it beside its stats file, the
    # module's statistics name the description the mapping embeds.
    assert result.stats["chip"].pop("spec_path").startswith("the chip description embedded in the mapping")
    theirs["chip"].pop("spec_path")
    assert result.stats == theirs
    assert result.stats["level"] == "simulator"


def test_two_simulations_in_one_session_give_the_same_bits(braille):
    mapping, inputs, _ = braille
    first = spiketile.simulate(mapping, input=inputs)
    second = spiketile.simulate(mapping, input=inputs[:20])
    assert second.outputs.tobytes() == first.outputs[:20].tobytes()
    assert spiketile.run(mapping, input=inputs).tobytes() == first.outputs.tobytes()


def test_wrong_input_shape_is_a_value_error_naming_the_shape(braille):
    mapping, _, _ = braille
    with pytest.raises(ValueError, match=r"expected \[T, 12\]"):
        spiketile.simulate(mapping, input=np.zeros((5, 7)))
