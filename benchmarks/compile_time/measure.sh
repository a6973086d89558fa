#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Times compiling user20.cpp (a user file that includes <kiln/kiln.hpp> and uses about
# twenty ops) to an object file: RUNS runs (default 5) per flag set, median, min and max of
# the wall time and of the CPU time (user + sys; what wall time would be on an idle
# machine, since g++ is single-threaded). Target: median <= 5 s at -O2.
#
#   benchmarks/compile_time/measure.sh            (or: cmake --build --preset bench --target compile_time)
#
# Environment: CXX (default g++), KILN_INCLUDE_DIR (default <repo>/include),
# SLEEF_INCLUDE_DIR (default: pkg-config sleef --cflags), RUNS.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cxx=${CXX:-g++}
include_dir=${KILN_INCLUDE_DIR:-$root/include}
runs=${RUNS:-5}
target_s=5

sleef_flags=()
if [[ -n "${SLEEF_INCLUDE_DIR:-}" ]]; then
  sleef_flags=("-I$SLEEF_INCLUDE_DIR")
elif command -v pkg-config >/dev/null && pkg-config --exists sleef; then
  read -r -a sleef_flags <<<"$(pkg-config --cflags sleef)"
fi

src="$here/user20.cpp"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# median / min / max of the numbers on stdin
stats() { sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2;
                                        printf "%.2f %.2f %.2f\n", m, v[1], v[NR]}'; }

measure() {  # runs, label, flags...
  local n=$1 label=$2
  shift 2
  local cmd=("$cxx" -std=c++20 "$@" -fopenmp "-I$include_dir" "${sleef_flags[@]}" -c "$src" -o "$tmp/user20.o")
  local walls=() cpus=() wall user sys
  local TIMEFORMAT='%R %U %S'
  for ((i = 0; i < n; ++i)); do
    if ! { time "${cmd[@]}" 2>"$tmp/err"; } 2>"$tmp/time"; then
      echo "compile failed: ${cmd[*]}" >&2
      head -n 40 "$tmp/err" >&2
      exit 1
    fi
    read -r wall user sys <"$tmp/time"
    walls+=("$wall")
    cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.3f", u + s}')")
  done
  local wm wl wh cm cl ch
  read -r wm wl wh < <(printf '%s\n' "${walls[@]}" | stats)
  read -r cm cl ch < <(printf '%s\n' "${cpus[@]}" | stats)
  printf '  %-26s wall median %6.2f s (%5.2f-%5.2f)   cpu median %6.2f s (%5.2f-%5.2f)   %d run(s)\n' \
    "$label" "$wm" "$wl" "$wh" "$cm" "$cl" "$ch" "$n"
  last_wall=$wm
  last_cpu=$cm
}

echo "== compile time of benchmarks/compile_time/user20.cpp (to an object file)"
echo "   $("$cxx" --version | head -n 1); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
lines=$("$cxx" -std=c++20 -fopenmp "-I$include_dir" "${sleef_flags[@]}" -E "$src" | wc -l)
echo "   preprocessed: $lines lines"
measure "$runs" "-O2" -O2
o2_wall=$last_wall
o2_cpu=$last_cpu
measure "$runs" "-O2 -march=native" -O2 -march=native
measure 1 "-fsyntax-only (front end)" -fsyntax-only
if awk -v m="$o2_cpu" -v t="$target_s" 'BEGIN {exit !(m <= t)}'; then verdict=PASS; else verdict=MISS; fi
echo "  $verdict -O2: cpu median $o2_cpu s, wall median $o2_wall s (target <= $target_s s, judged on cpu time:"
echo "       wall time also counts waiting for a CPU when other jobs share the machine)"
