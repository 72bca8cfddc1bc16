"""Type stubs of the spiketile extension module (python/module.cpp; docs/python.md)."""
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union, overload

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
        """n_layer, n_embd, vocab_size and parameters (a checkpoint); version, parameters, nodes, edges,
        input_shape and output_shape (a NIR graph)."""
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

def compile(
    model: Union[Model, str],
    chip: Union[Chip, str] = ...,
    *,
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
    Raises DoesNotFit when the model does not fit, TypeError naming an option that does not apply."""

class Generation:
    """What run() and simulate() of a SpikeGPT mapping return."""
    @property
    def prompt_ids(self) -> List[int]: ...
    @property
    def tokens(self) -> List[int]:
        """The generated token ids."""
    @property
    def logits(self) -> npt.NDArray[np.float32]:
        """Every consumed token's logits [rows, vocab] (prompt tokens included): what --logits-out writes."""
    @property
    def stats(self) -> Dict[str, Any]:
        """The run's statistics: the file --stats writes (docs/stats-format.md)."""

class Simulation:
    """What simulate() of a NIR graph's mapping returns."""
    @property
    def outputs(self) -> npt.NDArray[np.float32]:
        """The output node's values [T, *output shape]."""
    @property
    def stats(self) -> Dict[str, Any]:
        """The run's statistics: the file `spiketile simulate --stats` writes (docs/stats-format.md)."""

@overload
def run(mapping: Mapping, *, input: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """A compiled NIR graph on the mapping executor over input [T, *input shape]: the output
    [T, *output shape], the bits of `spiketile run --map X.stmap --input IN.npy --output OUT.npy`."""
@overload
def run(mapping: Mapping, *, prompt_ids: Sequence[int], n: int = 200, temperature: float = 1.0, top_p: float = 0.7,
        seed: int = 0) -> Generation:
    """A SpikeGPT mapping on the mapping executor: the bits of `spiketile run --map X.stmap --prompt-ids ...`."""

@overload
def simulate(mapping: Mapping, *, input: npt.ArrayLike, watchdog_cycles: int = 0) -> Simulation:
    """A compiled NIR graph on the cycle-accurate SystemC chip, in its own child process (SystemC
    elaborates once per process): the bits of `spiketile simulate --map X.stmap --input IN.npy --output OUT.npy`."""
@overload
def simulate(mapping: Mapping, *, prompt_ids: Sequence[int], n: int = 200, temperature: float = 1.0, top_p: float = 0.7,
             seed: int = 0, watchdog_cycles: int = 0) -> Generation:
    """A SpikeGPT mapping on the SystemC chip, in its own child process: the bits of
    `spiketile simulate --map X.stmap --prompt-ids ...`."""

def report(
    stats: str,
    *,
    energy_table: Optional[str] = None,
    convention_table: Optional[str] = None,
    chip: Optional[str] = None,
    gpu: str = "h100",
    gpu_precision: str = "bf16",
    batch: int = 8,
    encoding: str = "graded",
    gpu_measured: Sequence[str] = (),
) -> Dict[str, Any]:
    """The report of a statistics file: the dict `spiketile report --stats STATS --json R.json` writes."""
    ...

def to_html(report: Dict[str, Any], path: str) -> None:
    """Writes a report dict as the HTML page `spiketile report --html` writes (all or nothing)."""
    ...
