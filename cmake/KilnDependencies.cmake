# Third-party dependencies of kiln, all from the system package manager.
include_guard(GLOBAL)

find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(SLEEF REQUIRED)  # cmake/FindSLEEF.cmake: SLEEF::sleef
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(ZLIB REQUIRED)  # data: the gzip-compressed IDX files of FashionMNIST
find_package(nlohmann_json 3 REQUIRED)  # io: safetensors headers

# GEMM and convolution: oneDNN for float (JIT kernels, ISA from CPUID), OpenBLAS for double.
# See Note [GEMM backends] in src/blas.cpp. Debian: libdnnl-dev, libopenblas-openmp-dev.
find_package(dnnl 2.6 CONFIG)
if(NOT dnnl_FOUND)
  message(FATAL_ERROR "kiln needs oneDNN >= 2.6 (Debian/Ubuntu: apt-get install libdnnl-dev)")
endif()
set(BLA_VENDOR OpenBLAS)
find_package(BLAS)
find_path(KILN_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas-openmp openblas)
if(NOT BLAS_FOUND OR NOT KILN_CBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "kiln needs OpenBLAS with its cblas.h "
                      "(Debian/Ubuntu: apt-get install libopenblas-openmp-dev)")
endif()

# Random123 is header-only and lives in the default include path (Debian: librandom123-dev).
find_path(KILN_RANDOM123_INCLUDE_DIR Random123/philox.h)
if(NOT KILN_RANDOM123_INCLUDE_DIR)
  message(FATAL_ERROR "kiln needs the Random123 headers (<Random123/philox.h>); "
                      "on Debian/Ubuntu: apt-get install librandom123-dev")
endif()

# glibc's vector math library (>= 2.35 on x86-64) backs a few packet functions; see
# Note [Vector math backends] in include/kiln/expr/math.hpp. Without it, SLEEF does all.
find_library(KILN_MVEC_LIBRARY mvec)
set(CMAKE_REQUIRED_LIBRARIES mvec)
if(KILN_MVEC_LIBRARY AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  include(CheckCXXSourceCompiles)
  check_cxx_source_compiles("
    #include <emmintrin.h>
    extern \"C\" __m128 _ZGVbN4v_erff(__m128);
    int main() { return (int)_mm_cvtss_f32(_ZGVbN4v_erff(_mm_set1_ps(0.5f))); }" KILN_HAVE_LIBMVEC)
else()
  set(KILN_HAVE_LIBMVEC OFF)
endif()
unset(CMAKE_REQUIRED_LIBRARIES)

if(KILN_MPI)
  find_package(MPI REQUIRED COMPONENTS CXX)
endif()
