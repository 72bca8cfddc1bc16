"""A SpikeGPT mapping generates in Python with the CLI's bits: token ids, every logits row and the
statistics file, on the mapping executor (run) and on the SystemC chip (simulate, twice in one
session)."""
import json

import numpy as np
import pytest

import spiketile
from conftest import MODEL

PROMPT = [3, 17, 42]


@pytest.fixture(scope="module")
def fortunes(tmp_path_factory):
    mapping = spiketile.compile(str(MODEL), seed=7, profile_tokens=4)
    path = tmp_path_factory.mktemp("fortunes") / "fortunes.stmap"
    mapping.save(str(path))
    return mapping, path


def cli_generation(cli, command, path, folder, n):
    cli(command, "--map", path, "--prompt-ids", ",".join(map(str, PROMPT)), "-n", n, "--temperature", 0,
        "--logits-out", folder / "logits.npy", "--stats", folder / "s.json", "--quiet-stats")
    return np.load(folder / "logits.npy"), json.loads((folder / "s.json").read_text())


def test_run_on_the_executor_gives_the_clis_tokens_logits_and_stats(fortunes, tmp_path, cli):
    mapping, path = fortunes
    mine = spiketile.run(mapping, prompt_ids=PROMPT, n=8, temperature=0)
    logits, stats = cli_generation(cli, "run", path, tmp_path, 8)
    assert mine.prompt_ids == PROMPT
    assert mine.tokens == stats["tokens"]["generated"] and len(mine.tokens) == 8
    assert mine.logits.shape == logits.shape == (len(PROMPT) + 8, 77)
    assert mine.logits.tobytes() == logits.tobytes()
    assert mine.stats == stats


def test_simulate_gives_the_clis_bits_twice_in_one_session(fortunes, tmp_path, cli):
    mapping, path = fortunes
    first = spiketile.simulate(mapping, prompt_ids=PROMPT, n=6, temperature=0)
    second = spiketile.simulate(mapping, prompt_ids=PROMPT, n=6, temperature=0)
    logits, stats = cli_generation(cli, "simulate", path, tmp_path, 6)
    for result in (first, second):
        assert result.tokens == stats["tokens"]["generated"]
        assert result.logits.tobytes() == logits.tobytes()
        assert result.stats["chip"].pop("spec_path").startswith("the chip description embedded in the mapping")
    stats["chip"].pop("spec_path")
    assert first.stats == stats == second.stats
    # The chip gives the executor's bits.
    assert spiketile.run(mapping, prompt_ids=PROMPT, n=6, temperature=0).logits.tobytes() == logits.tobytes()


def test_prompt_outside_the_vocabulary_is_refused_naming_it(fortunes):
    mapping, _ = fortunes
    with pytest.raises(ValueError, match=r"prompt_ids\[1\]: token id 77 is outside the vocabulary \[0, 77\)"):
        spiketile.run(mapping, prompt_ids=[3, 77], n=1)
    with pytest.raises(ValueError, match="prompt_ids"):
        spiketile.simulate(mapping, input=np.zeros((2, 3)))
