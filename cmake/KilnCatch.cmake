# kiln_catch_discover_tests(<target> [BY_FILE] [PROPERTIES <name> <value>...]): one ctest
# test per Catch2 TEST_CASE, listed from the built executable after each build; with
# BY_FILE, one per test source file (far fewer processes, for builds whose start-up is
# slow, such as sanitized ones).
#
# Used instead of Catch2 v2's catch_discover_tests, whose CatchAddTests.cmake splits the
# list of names as a CMake list: a name with an unbalanced `[` ("accepts [-n, n)") swallows
# every later name into one bogus test that matches nothing and passes. Here names are
# split line by line, and every test runs with `--warn NoTests`, so a name that matches no
# test case fails instead of passing.
include_guard(GLOBAL)

set(_KILN_CATCH_ADD_TESTS "${CMAKE_CURRENT_LIST_DIR}/kiln_catch_add_tests.cmake")

function(kiln_catch_discover_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "BY_FILE" "" "PROPERTIES")
  set(tests_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_tests.cmake")
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake")
  # Properties travel as one argument; `|` keeps CMake from splitting them on the way.
  string(REPLACE ";" "|" properties "${arg_PROPERTIES}")
  add_custom_command(TARGET ${target} POST_BUILD
    BYPRODUCTS "${tests_file}"
    COMMAND "${CMAKE_COMMAND}"
      "-DTEST_EXECUTABLE=$<TARGET_FILE:${target}>"
      "-DTEST_WORKING_DIR=${CMAKE_CURRENT_BINARY_DIR}"
      "-DTEST_PROPERTIES=${properties}"
      "-DCTEST_FILE=${tests_file}"
      "-DBY_FILE=${arg_BY_FILE}"
      -P "${_KILN_CATCH_ADD_TESTS}"
    VERBATIM)
  file(WRITE "${include_file}"
    "if(EXISTS \"${tests_file}\")\n"
    "  include(\"${tests_file}\")\n"
    "else()\n"
    "  add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
