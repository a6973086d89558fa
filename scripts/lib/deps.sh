# Shared by scripts/demo and scripts/test (sourced, not run): installs the system packages
# kiln builds with, when some are missing, and puts nvcc on PATH when a CUDA toolkit sits
# in its usual place.

KILN_APT_PACKAGES=(build-essential cmake catch2 libeigen3-dev librandom123-dev libsleef-dev pkg-config
                   libdnnl-dev libopenblas-openmp-dev zlib1g-dev nlohmann-json3-dev libstb-dev
                   dataset-fashion-mnist python3-dev python3-venv libdlpack-dev)

kiln_install_deps() {
  if ! command -v dpkg >/dev/null 2>&1; then
    echo "kiln: no dpkg here; make sure these (or their equivalents) are installed:" \
         "${KILN_APT_PACKAGES[*]}" >&2
    return 0
  fi
  local missing=() pkg
  for pkg in "${KILN_APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
      else
        echo "kiln: missing packages (${missing[*]}) and no root or sudo to install them" >&2
        return 1
      fi
    fi
    echo "kiln: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi

  if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
  fi
}


# kiln_python_env DIR: a virtual environment in DIR with the Python packages the bindings
# and their tests need; sets KILN_PYTHON_BIN to its interpreter. Debian's python3 is
# preferred: its headers come from python3-dev. The environment sees the system's
# packages, so tests that compare with torch run where torch is installed.
kiln_python_env() {
  local dir=$1 python=python3
  [ -x /usr/bin/python3 ] && python=/usr/bin/python3
  if [ ! -x "$dir/bin/python" ]; then
    "$python" -m venv --system-site-packages "$dir"
  fi
  "$dir/bin/python" -m pip install -q --disable-pip-version-check pybind11 numpy pytest safetensors \
    scikit-build-core
  KILN_PYTHON_BIN="$PWD/$dir/bin/python"
  export KILN_PYTHON_BIN
}
