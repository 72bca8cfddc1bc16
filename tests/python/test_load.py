"""load_model and Chip: configuration, the inspect text of the CLI, and error paths."""
import pytest

import spiketile
from conftest import MODEL, NIR, SOURCE


def test_checkpoint_config_and_inspect_match_the_cli(cli):
    model = spiketile.load_model(str(MODEL))
    assert model.kind == "spikegpt"
    assert {k: model.config[k] for k in ("n_layer", "n_embd", "vocab_size")} == {"n_layer": 4, "n_embd": 192,
                                                                                  "vocab_size": 77}
    assert model.inspect() == cli("inspect", MODEL)
    assert model.config["spike_input_steps"] == 0


def test_a_spike_input_variant_is_read_from_its_checkpoint(cli):
    path = SOURCE / "tests" / "data" / "fixtures" / "tiny_l2_c32_v77_binary.pth"
    model = spiketile.load_model(str(path))
    assert model.config["spike_input_steps"] == 1
    assert "projection inputs: binary spikes (spike-input variant, T = 1)" in model.inspect()
    assert model.inspect() == cli("inspect", path)


def test_nir_config_and_inspect_match_the_cli(cli):
    path = NIR / "braille_subtract.nir"
    model = spiketile.load_model(str(path))
    assert model.kind == "nir"
    assert model.config["input_shape"] == [12]
    assert model.config["output_shape"] == [4]
    assert model.inspect() == cli("inspect", path)


def test_missing_model_raises_naming_the_file(tmp_path):
    missing = tmp_path / "absent.pth"
    with pytest.raises(Exception, match="absent.pth"):
        spiketile.load_model(str(missing))


def test_chip_loads_the_default_description():
    chip = spiketile.Chip(spiketile.DEFAULT_CHIP)
    assert chip.total_cores > 0
    assert chip.name


def test_malformed_chip_raises_with_file_and_line(tmp_path):
    text = (SOURCE / "chips" / "default.yaml").read_text()
    lines = text.splitlines()
    # A misspelt key on a known line: the loader names file, line and the key.
    lines.insert(3, "cores_per_chipp: 12")
    bad = tmp_path / "bad.yaml"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(spiketile.ChipError) as raised:
        spiketile.Chip(str(bad))
    assert f"{bad}:4:" in str(raised.value)
    assert "cores_per_chipp" in str(raised.value)
    assert any(p[0] == str(bad) and p[1] == 4 and "cores_per_chipp" in p[3] for p in raised.value.problems)
    assert isinstance(raised.value, ValueError)


def test_missing_chip_raises_naming_the_file(tmp_path):
    with pytest.raises(Exception, match="nowhere.yaml"):
        spiketile.Chip(str(tmp_path / "nowhere.yaml"))
