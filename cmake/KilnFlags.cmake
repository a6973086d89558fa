# Compile flags for kiln's own targets. None of these reach the exported kiln::kiln.
include_guard(GLOBAL)

set(KILN_WARNING_FLAGS -Wall -Wextra)  # no -Wpedantic: the CPU evaluator uses vector extensions
set(KILN_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)

# Warnings and (with KILN_SANITIZE) sanitizers, for every target kiln builds, the library
# included. All PRIVATE, so nothing is exported.
function(kiln_apply_own_flags target)
  target_compile_options(${target} PRIVATE
    "$<$<COMPILE_LANGUAGE:CXX>:${KILN_WARNING_FLAGS}>"
    "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>")
  if(KILN_SANITIZE)
    target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:${KILN_SANITIZE_FLAGS}>")
    target_link_options(${target} PRIVATE ${KILN_SANITIZE_FLAGS})
  endif()
endfunction()

# kiln_apply_dev_flags(<target>): for tests, benchmarks and examples. kiln_apply_own_flags
# plus -march=native when KILN_NATIVE is ON (never used on the installed library).
function(kiln_apply_dev_flags target)
  kiln_apply_own_flags(${target})
  if(KILN_NATIVE)
    target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:-march=native>")
    # GCC 12 with AVX-512 miscompiles some SLP-vectorised constant stores: the four values
    # {1, 1, 0, 0} written to a std::vector<int64_t> came out as {1, 1, 1, 1} (a 256-bit
    # broadcast of the low half's value, where the upper half should be zero). Two tests
    # built their inputs that way and failed in Release builds only. kiln's kernels use
    # explicit SIMD packets, so turning SLP vectorisation off costs them nothing.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
      target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:-fno-tree-slp-vectorize>")
    endif()
  endif()
endfunction()
