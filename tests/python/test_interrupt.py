"""Ctrl-C during a long run: a clean KeyboardInterrupt between time steps, and the module still
works afterwards."""
import os
import signal
import threading

import numpy as np
import pytest

import spiketile
from conftest import NIR


def test_ctrl_c_stops_run_with_keyboard_interrupt():
    inputs = np.load(NIR / "braille_subtract.input.npy")
    mapping = spiketile.compile(str(NIR / "braille_subtract.nir"), dt=1e-4, reset="subtract", calibrate=inputs)
    long_input = np.tile(inputs, (20000, 1))  # a million steps: seconds, where the signal comes at 50 ms
    timer = threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            spiketile.run(mapping, input=long_input)
    finally:
        timer.cancel()
    assert spiketile.run(mapping, input=inputs).shape == (50, 4)
