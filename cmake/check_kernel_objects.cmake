# cmake -DNM=<nm> -DLIBRARY=<libkiln.a> -P check_kernel_objects.cmake
#
# The AVX2/AVX-512 backward kernels (src/kernels) must define no weak C++ symbol that code
# built for another ISA could share: an inline function compiled there with AVX-512 could
# be the copy the linker keeps for the whole program, which would then fault on a CPU
# without AVX-512 (see program_kernel.hpp). Symbols on the object's own packet types are
# exempt: a packet's width is part of its mangled name ("Dv16_f"), so only code of the
# same width shares them.
# Optimised builds inline everything and define none at all.
execute_process(COMMAND "${NM}" -A "${LIBRARY}" OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -A ${LIBRARY} failed (${rc})")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(kernel_lines 0)
set(bad "")
foreach(line IN LISTS lines)
  if(NOT line MATCHES "program_kernel_avx")
    continue()
  endif()
  math(EXPR kernel_lines "${kernel_lines} + 1")
  # Exempt: packets of the object's own width only (a 256-bit helper in the AVX-512
  # object could be shared with AVX2 code).
  if(line MATCHES "program_kernel_avx512")
    set(own_width "Dv16_f|Dv8_d")
  else()
    set(own_width "Dv8_f|Dv4_d")
  endif()
  if(line MATCHES " [WVu] _Z" AND NOT line MATCHES "${own_width}")
    string(APPEND bad "  ${line}\n")
  endif()
endforeach()
if(kernel_lines EQUAL 0)
  message(FATAL_ERROR "${LIBRARY} holds no program_kernel_avx* object")
endif()
if(bad)
  message(FATAL_ERROR "weak C++ symbols in the per-ISA kernels:\n${bad}")
endif()
message(STATUS "per-ISA kernels: ${kernel_lines} symbols, none weak")
