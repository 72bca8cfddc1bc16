"""Progress callbacks: compile's search, run, simulate (reported by its child through the pipe) and
evaluate call progress(done, total) with the GIL held, thinned but always with the last report;
an exception the callback raises stops the call and propagates, and the module works afterwards."""
import numpy as np
import pytest

import spiketile
from conftest import MODEL, NIR, SOURCE

LONG_TEXT = SOURCE / "tests" / "data" / "fortunes_heldout.txt"


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, done, total):
        self.calls.append((done, total))


def assert_reports(calls, total):
    assert calls and calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    dones = [d for d, _ in calls]
    assert dones == sorted(dones) and len(set(dones)) == len(dones) and 0 < dones[0]


class Stop(Exception):
    pass


def stop_at(count):
    seen = []

    def callback(done, total):
        seen.append(done)
        if len(seen) == count:
            raise Stop(f"stopped at {done} of {total}")
    return callback


def test_run_reports_the_tokens_generated(quick_fortunes):
    mapping, _ = quick_fortunes
    progress = Recorder()
    result = spiketile.run(mapping, prompt_ids=[3], n=12, temperature=0, progress=progress)
    assert_reports(progress.calls, 12)
    assert len(result.tokens) == 12


def test_simulate_reports_through_its_child(quick_fortunes):
    mapping, _ = quick_fortunes
    progress = Recorder()
    spiketile.simulate(mapping, prompt_ids=[3], n=6, temperature=0, progress=progress)
    assert_reports(progress.calls, 6)
    inputs = np.load(NIR / "braille_subtract.input.npy")
    braille = spiketile.compile(str(NIR / "braille_subtract.nir"), dt=1e-4, reset="subtract", calibrate=inputs)
    steps = Recorder()
    spiketile.simulate(braille, input=inputs, progress=steps)
    assert_reports(steps.calls, 50)


def test_evaluate_reports_the_tokens_scored():
    progress = Recorder()
    result = spiketile.evaluate(str(MODEL), path=str(LONG_TEXT), max_tokens=2100, progress=progress)
    # eval reports every 1024 tokens and at the end (the module thins reports to ten a second)
    assert progress.calls[0] == (1024, 2099) and progress.calls[-1] == (2099, 2099)
    assert set(progress.calls) <= {(1024, 2099), (2048, 2099), (2099, 2099)}
    assert result["tokens_evaluated"] == 2099


def test_compile_reports_the_objectives_search():
    progress = Recorder()
    spiketile.compile(str(MODEL), profile_tokens=2, search_steps=3, progress=progress)
    assert progress.calls and all(0 < d <= t == 3 for d, t in progress.calls)


def test_an_exception_in_the_callback_stops_the_call_and_propagates(quick_fortunes):
    mapping, _ = quick_fortunes
    with pytest.raises(Stop, match="stopped at"):
        spiketile.run(mapping, prompt_ids=[3], n=100000, temperature=0, progress=stop_at(1))
    with pytest.raises(Stop, match="stopped at"):
        spiketile.simulate(mapping, prompt_ids=[3], n=100000, temperature=0, progress=stop_at(1))
    with pytest.raises(Stop, match="stopped at"):
        spiketile.evaluate(str(MODEL), path=str(LONG_TEXT), max_tokens=5000, progress=stop_at(1))
    with pytest.raises(Stop, match="stopped at"):
        spiketile.compile(str(MODEL), profile_tokens=2, search_steps=3, progress=stop_at(1))
    # Nothing is left half done: the next calls work.
    assert len(spiketile.simulate(mapping, prompt_ids=[3], n=2, temperature=0).tokens) == 2
    assert len(spiketile.run(mapping, prompt_ids=[3], n=2, temperature=0).tokens) == 2


def test_progress_must_be_callable(quick_fortunes):
    mapping, _ = quick_fortunes
    with pytest.raises(TypeError, match="progress"):
        spiketile.run(mapping, prompt_ids=[3], n=1, progress=5)
