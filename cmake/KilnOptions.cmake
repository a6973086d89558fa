# The KILN_* build options and the default build type.
include_guard(GLOBAL)

get_property(_kiln_multi_config GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
if(PROJECT_IS_TOP_LEVEL AND NOT _kiln_multi_config AND NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type (Debug, Release, RelWithDebInfo, MinSizeRel)" FORCE)
endif()

# CUDA is on by default wherever a CUDA compiler exists; probing is skipped when the
# option is already given (presets turn it off to keep configuring fast).
if(NOT DEFINED KILN_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(_kiln_cuda_default ON)
  else()
    set(_kiln_cuda_default OFF)
  endif()
endif()
option(KILN_CUDA "Build the CUDA backend (kiln::cuda)" ${_kiln_cuda_default})
option(KILN_PYTHON "Build the Python bindings (kiln._C)" OFF)
option(KILN_MPI "Build MPI process groups (kiln::distributed)" OFF)
option(KILN_SANITIZE "Build kiln's own targets with ASan + UBSan" OFF)
option(KILN_NATIVE "Compile kiln's tests, benchmarks and examples with -march=native" ON)
option(KILN_BUILD_TESTS "Build the tests" ${PROJECT_IS_TOP_LEVEL})
option(KILN_BUILD_BENCHMARKS "Build the benchmarks" OFF)
option(KILN_BUILD_EXAMPLES "Build the examples" ${PROJECT_IS_TOP_LEVEL})

