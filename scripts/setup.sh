#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12 packages (nothing is downloaded
# outside apt). Safe to re-run: apt skips what is already installed.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git
  libsystemc-dev verilator
  iverilog yosys   # the RTL's portability checks (rtl.icarus.*, rtl.yosys.*)
  libeigen3-dev libfmt-dev libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libicu-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libhdf5-dev   # NIR graphs (models/nir/)
  libopenmpi-dev openmpi-bin   # simulate over MPI ranks (sim/README.md)
  pybind11-dev python3-dev python3-numpy python3-pytest   # the Python module (python/) and its tests
  chromium   # renders the HTML report headless in tests (ReportHtml.RendersHeadlessInChromium)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
