"""Type stubs of the spiketile extension module (python/module.cpp; docs/python.md)."""
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, Union, overload

import os

import numpy as np
import numpy.typing as npt

__version__: str
DEFAULT_CHIP: str
"""The shipped chip description, chips/default.yaml (compile's default chip)."""

class ChipError(ValueError):
    """A chip description that is not valid: str() lists every problem as file:line:column: message."""
    problems: List[Tuple[str, int, int, str]]
    """Every problem as (file, line, column, message); line and column are 1-based, 0 when unknown."""

class DoesNotFit(ValueError):
    """The model does not fit the chip: str() lists every resource with need, capacity and fix."""

class MappingError(ValueError):
    """A mapping file that is damaged, of an unknown version or inconsistent."""

class Model:
    """A SpikeGPT checkpoint or a NIR graph, as load_model read it."""
    @property
    def path(self) -> str:
        """The file it was read from."""
    @property
    def kind(self) -> Literal["spikegpt", "nir"]:
        """'spikegpt' or 'nir'."""
    @property
    def config(self) -> Dict[str, Any]:
        """n_layer, n_embd, vocab_size, parameters and spike_input_steps (a checkpoint: T of a spike-input
        variant, 0 for the released graph); version, parameters, nodes, edges, input_shape and output_shape
        (a NIR graph)."""
    def inspect(self) -> str:
        """The text `spiketile inspect PATH` prints."""

def load_model(path: str, *, tokenizer: str = "", data_dir: str = "") -> Model:
    """Reads a SpikeGPT checkpoint (.pth, .safetensors) or a NIR graph (.nir)."""

class Chip:
    """A chip description (YAML), validated as `spiketile chip` validates it."""
    def __init__(self, path: str) -> None:
        """Loads and validates; raises ChipError listing every problem with file and line."""
    @property
    def path(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def total_cores(self) -> int: ...

class Mapping:
    """A model compiled onto a chip: what `spiketile compile -o X.stmap` writes."""
    @staticmethod
    def load(path: str) -> "Mapping":
        """Reads and validates a mapping file; raises MappingError naming the problem."""
    def save(self, path: str) -> None:
        """Writes the mapping file via a temporary renamed onto `path` (no partial file is left)."""
    def summary(self) -> Dict[str, Any]:
        """The JSON `spiketile inspect X.stmap --json` prints, as a dict."""
    def text(self) -> str:
        """The summary as text (`spiketile inspect X.stmap`)."""
    @property
    def kind(self) -> Literal["spikegpt", "nir"]: ...
    @property
    def cores(self) -> int: ...

ProgressCallback = Callable[[int, int], Any]
"""progress(done, total): called with the GIL held, at most ten times a second and always at the end;
an exception it raises stops the call and propagates."""

Level = Literal["golden", "quantized", "executor"]
"""The CLI's `run` (float model), `run --quantized` (integer model) and `run --map` (a compiled Mapping
on the mapping executor)."""

def compile(
    model: Union[Model, str],
    chip: Union[Chip, str] = ...,
    *,
    progress: Optional[ProgressCallback] = None,
    # SpikeGPT checkpoints
    objective: Literal["latency", "energy", "edp", "cores"] = "latency",
    energy_table: str = ...,
    max_cores: int = 0,
    search_steps: int = 24,
    profile_tokens: int = 16,
    profile_start: int = 0,
    calibration: str = "",
    no_rescale: bool = False,
    binary_embedding: Literal["auto", "on", "off"] = "auto",
    # NIR graphs (dt and calibrate required)
    dt: float = ...,
    calibrate: Optional[npt.ArrayLike] = None,
    reset: str = "",
    fire_at_threshold: bool = False,
    # both
    weight_bits: int = 8,
    activation_bits: int = 8,
    membrane_bits: int = 16,
    seed: int = ...,
    placement_effort: float = 120.0,
    firing_rate: float = 0.2,
) -> Mapping:
    """Compiles onto a chip; the same options give the same mapping file as `spiketile compile`.
    Raises DoesNotFit when the model does not fit, TypeError naming an option that does not apply.
    progress (SpikeGPT only) hears the objective's search: splits tried of the most it may try."""

class Generation:
    """What run() and simulate() of a SpikeGPT model return."""
    @property
    def prompt_ids(self) -> List[int]:
        """The prompt's token ids (a text prompt as the tokenizer encoded it)."""
    @property
    def tokens(self) -> List[int]:
        """The generated token ids."""
    @property
    def text(self) -> Optional[str]:
        """The generated text, decoded with the model's tokenizer: what the CLI prints after the prompt
        (bytes that are not UTF-8 read as U+FFFD); None for a vocabulary without a tokenizer."""
    @property
    def logits(self) -> npt.NDArray[np.float32]:
        """Every consumed token's logits [rows, vocab] (prompt tokens included): what --logits-out writes."""
    @property
    def spikes(self) -> Optional[npt.NDArray[np.uint8]]:
        """With spikes=True: every LIF spike, 0/1 [rows, n_layer, 2, n_embd] (0 the time-mix LIF, 1 the
        channel-mix LIF), what --spikes-out writes; else None."""
    @property
    def membranes(self) -> Optional[npt.NDArray[np.float32]]:
        """With membranes=True: every LIF membrane after its step, [rows, n_layer, 2, n_embd] laid out as
        spikes, in units of the firing threshold (1.0 fires, 0 after a spike; the integer levels' Q.8
        membrane / 256), what --membranes-out writes; else None."""
    @property
    def stats(self) -> Optional[Dict[str, Any]]:
        """The run's statistics: the file --stats writes (docs/stats-format.md); None on the golden level."""

class Simulation:
    """What simulate() of a NIR graph's mapping returns."""
    @property
    def outputs(self) -> npt.NDArray[np.float32]:
        """The output node's values [T, *output shape]."""
    @property
    def stats(self) -> Dict[str, Any]:
        """The run's statistics: the file `spiketile simulate --stats` writes (docs/stats-format.md)."""

@overload
def run(model: Union[Mapping, Model, str], *, input: npt.ArrayLike, level: Optional[Level] = None,
        progress: Optional[ProgressCallback] = None,
        # a NIR graph's golden and quantized levels (dt required)
        dt: float = ..., reset: str = "", fire_at_threshold: bool = False,
        calibrate: Optional[npt.ArrayLike] = None, weight_bits: int = 8, activation_bits: int = 8,
        membrane_bits: int = 16) -> npt.NDArray[np.float32]:
    """A NIR graph over input [T, *input shape]: its output [T, *output shape], the bits of `spiketile run
    --nir G [--quantized] --input IN.npy --output OUT.npy` (a Model) or `run --map X.stmap --input IN.npy`
    (a Mapping)."""
@overload
def run(model: Union[Mapping, Model, str], *, prompt: Optional[str] = None, prompt_ids: Optional[Sequence[int]] = None,
        level: Optional[Level] = None, n: int = 200, temperature: float = 1.0, top_p: float = 0.7, seed: int = 0,
        spikes: bool = False, membranes: bool = False, lowercase: bool = False,
        progress: Optional[ProgressCallback] = None,
        # the golden and quantized levels of a checkpoint
        no_rescale: bool = False, binary_embedding: Literal["auto", "on", "off"] = "auto", threads: int = 0,
        calibration: str = "", weight_bits: int = 8, activation_bits: int = 8, membrane_bits: int = 16) -> Generation:
    """A SpikeGPT model generating after its prompt (text with the model's tokenizer, default the CLI's, or
    ids; not both; lowercase=True lowercases the text first): the bits of `spiketile run [--quantized | --map
    X.stmap] --prompt ... [--lowercase]`."""

@overload
def simulate(mapping: Mapping, *, input: npt.ArrayLike, watchdog_cycles: int = 0,
             progress: Optional[ProgressCallback] = None) -> Simulation:
    """A compiled NIR graph on the cycle-accurate SystemC chip, in its own child process (SystemC
    elaborates once per process): the bits of `spiketile simulate --map X.stmap --input IN.npy --output OUT.npy`."""
@overload
def simulate(mapping: Mapping, *, prompt: Optional[str] = None, prompt_ids: Optional[Sequence[int]] = None,
             n: int = 200, temperature: float = 1.0, top_p: float = 0.7, seed: int = 0, spikes: bool = False,
             membranes: bool = False, lowercase: bool = False, watchdog_cycles: int = 0,
             progress: Optional[ProgressCallback] = None) -> Generation:
    """A SpikeGPT mapping on the SystemC chip, in its own child process: the bits of
    `spiketile simulate --map X.stmap --prompt ...`."""

def evaluate(
    model: Union[Mapping, Model, str],
    *,
    text: Optional[str] = None,
    path: Optional[str] = None,
    level: Optional[Level] = None,
    max_tokens: int = 0,
    lowercase: bool = False,
    progress: Optional[ProgressCallback] = None,
    no_rescale: bool = False,
    binary_embedding: Literal["auto", "on", "off"] = "auto",
    threads: int = 0,
    calibration: str = "",
    weight_bits: int = 8,
    activation_bits: int = 8,
    membrane_bits: int = 16,
) -> Dict[str, Any]:
    """Scores a text (text= or path=, not both) as `spiketile eval --text FILE --json J` does: that dict
    (bits_per_token, mean_nll_nats, layers, counts on the levels that count; 'text' None for text=)."""

def report(
    stats: Union[str, Dict[str, Any]],
    *,
    energy_table: Optional[str] = None,
    convention_table: Optional[str] = None,
    chip: Optional[str] = None,
    gpu: str = "h100",
    gpu_precision: str = "bf16",
    batch: int = 8,
    encoding: str = "graded",
    gpu_measured: Sequence[str] = (),
    raster: Union[None, str, "os.PathLike[str]", npt.NDArray[Union[np.uint8, np.bool_]]] = None,
    raster_layer: int = 0,
) -> Dict[str, Any]:
    """The report of a statistics file, or of a statistics dict (a Generation's or Simulation's .stats,
    priced without a file; its inputs.stats is ""): the dict `spiketile report --stats STATS --json R.json`
    writes. raster (the same run's Generation.spikes, read in place, or its --spikes-out file) adds layer
    raster_layer's spikes as "raster" (`report --raster F --raster-layer L`; an array's raster["file"] is
    ""); one that disagrees with the stats raises ValueError with the CLI's message."""
    ...

def to_html(report: Dict[str, Any], path: str) -> None:
    """Writes a report dict as the HTML page `spiketile report --html` writes (all or nothing)."""
    ...
