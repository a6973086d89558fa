# Installs headers, libraries and the CMake package so that an outside project can call
# find_package(kiln) and link kiln::kiln (and kiln::cuda when built).
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(KILN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/kiln")

set(_kiln_install_targets kiln)
set(KILN_CONFIG_WITH_CUDA OFF)
if(TARGET kiln_cuda)
  list(APPEND _kiln_install_targets kiln_cuda)
  set(KILN_CONFIG_WITH_CUDA ON)
endif()
# Private dependencies of a static library stay in its link interface ($<LINK_ONLY:...>),
# so the installed package must find them too.
get_target_property(_kiln_type kiln TYPE)
if(_kiln_type STREQUAL "STATIC_LIBRARY")
  set(KILN_CONFIG_STATIC ON)
else()
  set(KILN_CONFIG_STATIC OFF)
endif()
set(KILN_CONFIG_WITH_MPI ${KILN_MPI})

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/kiln"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(TARGETS ${_kiln_install_targets}
        EXPORT kilnTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT kilnTargets
        NAMESPACE kiln::
        DESTINATION "${KILN_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/kilnConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/kilnConfig.cmake"
  INSTALL_DESTINATION "${KILN_INSTALL_CMAKEDIR}")
# 0.x: minor versions may break the API, so only the same minor version is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/kilnConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
          "${PROJECT_BINARY_DIR}/kilnConfig.cmake"
          "${PROJECT_BINARY_DIR}/kilnConfigVersion.cmake"
          "${PROJECT_SOURCE_DIR}/cmake/FindSLEEF.cmake"
        DESTINATION "${KILN_INSTALL_CMAKEDIR}")
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/kiln")
