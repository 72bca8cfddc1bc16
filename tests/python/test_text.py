"""Text prompts and decoded text: a prompt is encoded with the model's tokenizer as the CLI's
--prompt encodes it (its default prompt, its note on characters read as space), and .text is what
the CLI prints after the prompt."""
import json

import numpy as np
import pytest

import spiketile
from conftest import MODEL, run_cli_full

PROMPT = "a fortune: "


def cli_generate(command, source, folder, *args):
    stdout, stderr = run_cli_full(command, *source, *args, "-n", 8, "--temperature", 0, "--logits-out",
                                  folder / "l.npy", "--quiet")
    return stdout, stderr, np.load(folder / "l.npy")


def test_run_with_a_text_prompt_prints_the_clis_text(quick_fortunes, tmp_path):
    mapping, path = quick_fortunes
    mine = spiketile.run(mapping, prompt=PROMPT, n=8, temperature=0)
    stdout, _, logits = cli_generate("run", ["--map", path], tmp_path, "--prompt", PROMPT,
                                     "--stats", tmp_path / "s.json")
    assert stdout == PROMPT + mine.text + "\n"
    assert len(mine.text) == 8   # a character vocabulary: one character a token
    assert mine.prompt_ids == json.loads((tmp_path / "s.json").read_text())["tokens"]["prompt"]
    assert mine.logits.tobytes() == logits.tobytes()


def test_simulate_with_a_text_prompt_prints_the_clis_text(quick_fortunes, tmp_path):
    mapping, path = quick_fortunes
    mine = spiketile.simulate(mapping, prompt=PROMPT, n=8, temperature=0)
    stdout, _, logits = cli_generate("simulate", ["--map", path], tmp_path, "--prompt", PROMPT)
    assert stdout == PROMPT + mine.text + "\n"
    assert mine.logits.tobytes() == logits.tobytes()


def test_the_default_prompt_is_the_clis(quick_fortunes, tmp_path):
    mapping, path = quick_fortunes
    mine = spiketile.run(mapping, n=8, temperature=0)
    stdout, _, logits = cli_generate("run", ["--map", path], tmp_path)
    assert mine.logits.tobytes() == logits.tobytes()
    assert stdout.endswith(mine.text + "\n") and len(mine.prompt_ids) == 1


def test_a_prompt_ids_run_decodes_its_text_too(quick_fortunes, tmp_path):
    mapping, path = quick_fortunes
    mine = spiketile.run(mapping, prompt_ids=[3, 17, 42], n=8, temperature=0)
    stdout, _, _ = cli_generate("run", ["--map", path], tmp_path, "--prompt-ids", "3,17,42")
    assert stdout == mine.text + "\n"


def test_the_golden_level_encodes_with_the_checkpoints_tokenizer(tmp_path):
    mine = spiketile.run(str(MODEL), level="golden", prompt=PROMPT, n=8, temperature=0)
    stdout, _, logits = cli_generate("run", ["--model", MODEL], tmp_path, "--prompt", PROMPT)
    assert stdout == PROMPT + mine.text + "\n"
    assert mine.logits.tobytes() == logits.tobytes()


def test_characters_outside_the_vocabulary_warn_with_the_clis_note(quick_fortunes, tmp_path):
    mapping, path = quick_fortunes
    prompt = "Snow \u2603 and \u00e9t\u00e9 "
    with pytest.warns(UserWarning) as caught:
        mine = spiketile.run(mapping, prompt=prompt, n=2, temperature=0)
    _, stderr, logits = cli_generate("run", ["--map", path], tmp_path, "--prompt", prompt)
    notes = [line[len("spiketile: note: "):] for line in stderr.splitlines() if line.startswith("spiketile: note: ")]
    assert len(notes) == 1 and "read as space" in notes[0]
    assert [str(w.message) for w in caught] == notes
    assert mine.logits.tobytes() == logits[:len(mine.logits)].tobytes()


def test_prompt_and_prompt_ids_together_are_refused_naming_both(quick_fortunes):
    mapping, _ = quick_fortunes
    for call in (spiketile.run, spiketile.simulate):
        with pytest.raises(ValueError, match=r"prompt=.*prompt_ids="):
            call(mapping, prompt="A", prompt_ids=[3], n=1)


def test_an_empty_prompt_is_refused(quick_fortunes):
    mapping, _ = quick_fortunes
    with pytest.raises(ValueError, match="the prompt is empty; give prompt or prompt_ids"):
        spiketile.run(mapping, prompt="", n=1)


def test_lowercase_reads_a_mixed_case_prompt_and_text_as_the_clis_lowercase(quick_fortunes, tmp_path):
    mapping, path = quick_fortunes
    mine = spiketile.run(mapping, prompt="The Cat ", n=8, temperature=0, lowercase=True)
    stdout, stderr, logits = cli_generate("run", ["--map", path], tmp_path, "--prompt", "The Cat ", "--lowercase")
    assert "read as space" not in stderr
    assert stdout == "The Cat " + mine.text + "\n"
    assert mine.logits.tobytes() == logits.tobytes()
    assert mine.prompt_ids == spiketile.run(mapping, prompt="the cat ", n=0).prompt_ids
    simulated = spiketile.simulate(mapping, prompt="The Cat ", n=8, temperature=0, lowercase=True)
    assert simulated.logits.tobytes() == mine.logits.tobytes()
    text = tmp_path / "mixed.txt"
    text.write_text("The Fortune Of The Day Is A Fortune.\n")
    scored = spiketile.evaluate(mapping, path=str(text), lowercase=True)
    run_cli_full("eval", "--map", path, "--text", text, "--lowercase", "--json", tmp_path / "e.json")
    cli = json.loads((tmp_path / "e.json").read_text())
    assert scored["bits_per_token"] == cli["bits_per_token"]
    assert scored["unknown_characters_replaced"] == 0
