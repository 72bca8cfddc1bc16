"""run() on the golden, quantized and executor levels, and evaluate(): the CLI's run, run
--quantized, run --map, run --nir [--quantized] and eval --json, bit for bit."""
import json

import numpy as np
import pytest

import spiketile
from conftest import HELDOUT, MODEL, NIR

PROMPT = [3, 17, 42]


def cli_run(cli, folder, *source, stats=True):
    extra = ["--stats", folder / "s.json"] if stats else []
    cli("run", *source, "--prompt-ids", ",".join(map(str, PROMPT)), "-n", 6, "--temperature", 0, "--logits-out",
        folder / "l.npy", "--quiet", *extra)
    return np.load(folder / "l.npy"), json.loads((folder / "s.json").read_text()) if stats else None


def test_quantized_level_is_run_quantized(tmp_path, cli):
    mine = spiketile.run(spiketile.load_model(str(MODEL)), level="quantized", prompt_ids=PROMPT, n=6, temperature=0)
    logits, stats = cli_run(cli, tmp_path, "--quantized", "--model", MODEL)
    assert mine.logits.tobytes() == logits.tobytes()
    assert mine.stats == stats and stats["level"] == "quantized"


def test_quantized_level_takes_the_clis_bits_options(tmp_path, cli):
    mine = spiketile.run(str(MODEL), level="quantized", prompt_ids=PROMPT, n=6, temperature=0, weight_bits=6,
                         membrane_bits=14)
    logits, stats = cli_run(cli, tmp_path, "--quantized", "--model", MODEL, "--weight-bits", 6, "--membrane-bits", 14)
    assert mine.logits.tobytes() == logits.tobytes() and mine.stats == stats


def test_golden_level_is_run_and_counts_nothing(tmp_path, cli):
    mine = spiketile.run(str(MODEL), prompt_ids=PROMPT, n=6, temperature=0)   # golden: a model's default
    logits, _ = cli_run(cli, tmp_path, "--model", MODEL, stats=False)
    assert mine.logits.tobytes() == logits.tobytes()
    assert mine.stats is None


def test_executor_level_is_run_map(quick_fortunes, tmp_path, cli):
    mapping, path = quick_fortunes
    mine = spiketile.run(mapping, level="executor", prompt_ids=PROMPT, n=6, temperature=0)
    logits, stats = cli_run(cli, tmp_path, "--map", path)
    assert mine.logits.tobytes() == logits.tobytes() and mine.stats == stats


def test_nir_float_and_integer_levels_are_run_nir(tmp_path, cli):
    graph, inputs = NIR / "braille_subtract.nir", NIR / "braille_subtract.input.npy"
    common = ["--nir", graph, "--dt", "1e-4", "--reset", "subtract", "--input", inputs, "--quiet"]
    for level, flags in (("golden", []), ("quantized", ["--quantized"])):
        mine = spiketile.run(str(graph), level=level, input=np.load(inputs), dt=1e-4, reset="subtract")
        cli("run", *common, *flags, "--output", tmp_path / f"{level}.npy")
        theirs = np.load(tmp_path / f"{level}.npy")
        assert mine.dtype == np.float32 and mine.shape == theirs.shape == (50, 4)
        assert mine.tobytes() == theirs.tobytes(), level


def test_a_level_that_is_none_is_refused_naming_the_choices(quick_fortunes):
    mapping, _ = quick_fortunes
    with pytest.raises(ValueError, match="'golden'.*'quantized'.*'executor'"):
        spiketile.run(str(MODEL), level="mapping", prompt_ids=PROMPT, n=1)
    with pytest.raises(ValueError, match="level='executor' runs a compiled Mapping"):
        spiketile.run(str(MODEL), level="executor", prompt_ids=PROMPT, n=1)
    with pytest.raises(ValueError, match="a Mapping runs on level='executor'"):
        spiketile.evaluate(mapping, text="abc", level="golden")


def test_options_a_level_does_not_take_are_refused_naming_them(quick_fortunes):
    mapping, _ = quick_fortunes
    with pytest.raises(TypeError, match="weight_bits"):
        spiketile.run(str(MODEL), level="golden", prompt_ids=PROMPT, n=1, weight_bits=6)
    with pytest.raises(TypeError, match="as compiled.*no_rescale"):
        spiketile.run(mapping, prompt_ids=PROMPT, n=1, no_rescale=True)


def cli_eval(cli, folder, *source, max_tokens=48):
    cli("eval", *source, "--text", HELDOUT, "--max-tokens", max_tokens, "--json", folder / "e.json", "--progress", "off")
    return json.loads((folder / "e.json").read_text())


def test_evaluate_is_eval_json_on_every_level(quick_fortunes, tmp_path, cli):
    mapping, path = quick_fortunes
    for level, source, subject in (("golden", ["--model", MODEL], str(MODEL)),
                                   ("quantized", ["--quantized", "--model", MODEL], str(MODEL)),
                                   ("executor", ["--map", path], spiketile.Mapping.load(str(path)))):
        mine = spiketile.evaluate(subject, path=str(HELDOUT), level=level, max_tokens=48)
        theirs = cli_eval(cli, tmp_path, *source)
        assert mine == theirs, level
        assert mine["tokens_evaluated"] == 47 and mine["unit"] == "bits per character"


def test_evaluate_a_text_in_memory_as_its_file(tmp_path, cli):
    mine = spiketile.evaluate(str(MODEL), text=HELDOUT.read_text(), level="quantized", max_tokens=60)
    theirs = cli_eval(cli, tmp_path, "--quantized", "--model", MODEL, max_tokens=60)
    assert mine.pop("text") is None and theirs.pop("text") == str(HELDOUT)
    assert mine == theirs


def test_evaluate_needs_exactly_one_text(quick_fortunes):
    mapping, _ = quick_fortunes
    with pytest.raises(ValueError, match=r"text=.*path="):
        spiketile.evaluate(mapping, text="abc", path=str(HELDOUT))
    with pytest.raises(ValueError, match="needs a text"):
        spiketile.evaluate(mapping)
    with pytest.raises(ValueError, match="at least two"):
        spiketile.evaluate(mapping, text="a")
