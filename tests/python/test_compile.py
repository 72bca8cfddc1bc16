"""compile, Mapping.save/load/summary and run: the module's files and outputs are the CLI's, byte
for byte, for the same options."""
import json

import numpy as np
import pytest

import spiketile
from conftest import MODEL, NIR


def test_spikegpt_mapping_file_is_the_clis(tmp_path, cli):
    mapping = spiketile.compile(spiketile.load_model(str(MODEL)), seed=7, profile_tokens=4)
    assert mapping.kind == "spikegpt"
    mine, theirs = tmp_path / "py.stmap", tmp_path / "cli.stmap"
    mapping.save(str(mine))
    cli("compile", "--model", MODEL, "--seed", 7, "--profile-tokens", 4, "-o", theirs)
    assert mine.read_bytes() == theirs.read_bytes()
    assert mapping.summary() == json.loads(cli("inspect", theirs, "--json"))
    assert spiketile.Mapping.load(str(theirs)).summary() == mapping.summary()


def test_spikegpt_cores_objective_matches_the_cli(tmp_path, cli):
    mapping = spiketile.compile(str(MODEL), chip=spiketile.Chip(spiketile.DEFAULT_CHIP), objective="cores",
                                profile_tokens=0, placement_effort=0)
    mine, theirs = tmp_path / "py.stmap", tmp_path / "cli.stmap"
    mapping.save(str(mine))
    cli("compile", "--model", MODEL, "--objective", "cores", "--profile-tokens", 0, "--placement-effort", 0, "-o", theirs)
    assert mine.read_bytes() == theirs.read_bytes()


def braille():
    return NIR / "braille_subtract.nir", NIR / "braille_subtract.input.npy"


def test_nir_mapping_file_and_executor_output_are_the_clis(tmp_path, cli):
    graph, inputs = braille()
    calibration = np.load(inputs)
    mapping = spiketile.compile(spiketile.load_model(str(graph)), dt=1e-4, reset="subtract", calibrate=calibration)
    assert mapping.kind == "nir"
    mine, theirs = tmp_path / "py.stmap", tmp_path / "cli.stmap"
    mapping.save(str(mine))
    cli("compile", "--nir", graph, "--dt", "1e-4", "--reset", "subtract", "--calibrate", inputs, "-o", theirs)
    assert mine.read_bytes() == theirs.read_bytes()
    outputs = spiketile.run(mapping, input=calibration)
    cli("run", "--map", theirs, "--input", inputs, "--output", tmp_path / "cli.npy")
    expected = np.load(tmp_path / "cli.npy")
    assert outputs.dtype == np.float32 and outputs.shape == expected.shape == (50, 4)
    assert outputs.tobytes() == expected.tobytes()


def test_nir_compile_needs_its_calibration_input():
    graph, _ = braille()
    with pytest.raises(ValueError, match="calibrate"):
        spiketile.compile(str(graph), dt=1e-4)


def test_unknown_option_is_refused_naming_it():
    with pytest.raises(TypeError, match="placement_efort"):
        spiketile.compile(str(MODEL), placement_efort=0)


def test_model_that_does_not_fit_raises_does_not_fit():
    with pytest.raises(spiketile.DoesNotFit):
        spiketile.compile(str(MODEL), objective="cores", max_cores=1, profile_tokens=0, placement_effort=0)


def test_damaged_mapping_file_raises_mapping_error(tmp_path):
    bad = tmp_path / "bad.stmap"
    bad.write_bytes(b"\x89STMAP\r\n" + b"\0" * 40)
    with pytest.raises(spiketile.MappingError, match="bad.stmap"):
        spiketile.Mapping.load(str(bad))


def test_run_refuses_a_spikegpt_mapping():
    mapping = spiketile.compile(str(MODEL), objective="cores", profile_tokens=0, placement_effort=0)
    with pytest.raises(ValueError, match="SpikeGPT"):
        spiketile.run(mapping, input=np.zeros((2, 12)))
