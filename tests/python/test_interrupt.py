"""Ctrl-C during a long run or simulation: a clean KeyboardInterrupt (between time steps, or the
simulation's child killed), and the module still works afterwards."""
import os
import signal
import threading

import numpy as np
import pytest

import spiketile
from conftest import MODEL, NIR


def braille():
    inputs = np.load(NIR / "braille_subtract.input.npy")
    return spiketile.compile(str(NIR / "braille_subtract.nir"), dt=1e-4, reset="subtract", calibrate=inputs), inputs


def interrupted_after(seconds, call):
    """Sends this process SIGINT (Ctrl-C) `seconds` into `call`, which must raise KeyboardInterrupt."""
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            call()
    finally:
        timer.cancel()


def test_ctrl_c_stops_run_with_keyboard_interrupt():
    mapping, inputs = braille()
    long_input = np.tile(inputs, (20000, 1))  # a million steps: seconds, where the signal comes at 50 ms
    interrupted_after(0.05, lambda: spiketile.run(mapping, input=long_input))
    assert spiketile.run(mapping, input=inputs).shape == (50, 4)


def test_ctrl_c_stops_simulate_killing_its_child():
    mapping, inputs = braille()
    long_input = np.tile(inputs, (2000, 1))  # 100,000 steps on the SystemC chip: seconds, not 300 ms
    interrupted_after(0.3, lambda: spiketile.simulate(mapping, input=long_input))
    assert spiketile.simulate(mapping, input=inputs).outputs.shape == (50, 4)


def test_ctrl_c_stops_a_spikegpt_generation_on_the_executor():
    mapping = spiketile.compile(str(MODEL), objective="cores", profile_tokens=0, placement_effort=0)
    # 200,000 tokens take minutes on the executor; the signal comes at 300 ms.
    interrupted_after(0.3, lambda: spiketile.run(mapping, prompt_ids=[3], n=200000, temperature=0))
    assert len(spiketile.run(mapping, prompt_ids=[3], n=2, temperature=0).tokens) == 2


def test_ctrl_c_stops_evaluate_at_its_next_progress_report():
    text = MODEL.parent.parent / "tests" / "data" / "fortunes_heldout.txt"   # 120,000 characters: seconds
    interrupted_after(0.3, lambda: spiketile.evaluate(str(MODEL), path=str(text)))
    assert spiketile.evaluate(str(MODEL), text="a fortune", max_tokens=4)["tokens_evaluated"] == 3
