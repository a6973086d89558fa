# The install_consumer test: installs the kiln build in KILN_BINARY_DIR into a prefix under
# WORK_DIR, then configures, builds and runs CONSUMER_SOURCE_DIR (tests/install) against
# it with the same build type, generator and compiler.
#   cmake -DKILN_BINARY_DIR=... -DCONSUMER_SOURCE_DIR=... -DWORK_DIR=... -DCONFIG=...
#         -DGENERATOR=... -DCXX_COMPILER=... [-DCUDA_ROOT=...] [-DLINK_FLAGS=...]
#         -P install_consumer.cmake
foreach(var KILN_BINARY_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")

set(config_args)
set(build_config_args)
if(CONFIG)
  set(config_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
  set(build_config_args --config "${CONFIG}")
endif()
if(CUDA_ROOT)
  list(APPEND config_args "-DCUDAToolkit_ROOT=${CUDA_ROOT}")
endif()
if(LINK_FLAGS)
  list(APPEND config_args "-DCMAKE_EXE_LINKER_FLAGS=${LINK_FLAGS}")
endif()

function(run)
  execute_process(COMMAND ${ARGN} COMMAND_ECHO STDOUT RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_consumer: command failed (${rc})")
  endif()
endfunction()

run("${CMAKE_COMMAND}" --install "${KILN_BINARY_DIR}" --prefix "${prefix}" ${build_config_args})
run("${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_PREFIX_PATH=${prefix}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF ${config_args})

# The package must come from the fresh prefix, not from some other kiln on the machine.
file(STRINGS "${build}/CMakeCache.txt" kiln_dir REGEX "^kiln_DIR:")
string(REGEX REPLACE "^kiln_DIR:[A-Z]+=" "" kiln_dir "${kiln_dir}")
file(REAL_PATH "${prefix}" real_prefix)
file(REAL_PATH "${kiln_dir}" real_kiln_dir)
cmake_path(IS_PREFIX real_prefix "${real_kiln_dir}" from_prefix)
if(NOT from_prefix)
  message(FATAL_ERROR "install_consumer: found kiln in ${kiln_dir}, not under ${prefix}")
endif()

run("${CMAKE_COMMAND}" --build "${build}" ${build_config_args})

# Single-config generators put the executable in the build dir; multi-config ones in a
# per-config subfolder.
set(app "${build}/kiln_consumer")
if(CONFIG AND EXISTS "${build}/${CONFIG}/kiln_consumer")
  set(app "${build}/${CONFIG}/kiln_consumer")
endif()
run("${app}")
