# Writes CTEST_FILE with one add_test() per test case of the Catch2 executable
# TEST_EXECUTABLE (see KilnCatch.cmake), or with BY_FILE one per test source file. Run by
# CMake after each build of the executable.
if(BY_FILE)
  set(list_args "-#" --list-tags)
else()
  set(list_args --list-test-names-only)
endif()
execute_process(
  COMMAND "${TEST_EXECUTABLE}" ${list_args}
  WORKING_DIRECTORY "${TEST_WORKING_DIR}"
  OUTPUT_VARIABLE output
  ERROR_VARIABLE error
  RESULT_VARIABLE result)

# Catch2 v2 exits with the number of test cases listed, capped at 255; anything else (a
# crash, a duplicate TEST_CASE name) is an error, checked once the names are counted.
macro(listing_failed)
  message(FATAL_ERROR "Listing the tests of ${TEST_EXECUTABLE} failed (exit ${result}):\n"
                      "${output}${error}")
endmacro()
if(NOT result MATCHES "^[0-9]+$")
  listing_failed()
endif()

string(REPLACE "|" ";" properties "${TEST_PROPERTIES}")
if(BY_FILE)
  # Catch2's -# tags every test case with its file's name ("[#test_layers]"); hidden test
  # cases ([.]) stay out, as they do from a plain run.
  string(REGEX MATCHALL "\\[#[A-Za-z0-9_]+\\]" tags "${output}")
  list(REMOVE_DUPLICATES tags)
  set(script "")
  foreach(tag IN LISTS tags)
    string(REGEX REPLACE "^\\[#(.*)\\]$" "\\1" file "${tag}")
    string(APPEND script
      "add_test([==[${file}]==] [==[${TEST_EXECUTABLE}]==] \"-#\" [==[${tag}~[.]]==] --warn NoTests)\n"
      "set_tests_properties([==[${file}]==] PROPERTIES WORKING_DIRECTORY [==[${TEST_WORKING_DIR}]==]")
    foreach(p IN LISTS properties)
      string(APPEND script " [==[${p}]==]")
    endforeach()
    string(APPEND script ")\n")
  endforeach()
  list(LENGTH tags count)
  if(count EQUAL 0)
    message(FATAL_ERROR "No [#file] tags listed by ${TEST_EXECUTABLE}:\n${output}${error}")
  endif()
  file(WRITE "${CTEST_FILE}" "${script}")
  return()
endif()

# One bracket argument per value, so that no character of a test name is interpreted.
function(bracket out value)
  set(eq "=")
  while(value MATCHES "]${eq}]")
    string(APPEND eq "=")
  endwhile()
  set(${out} "[${eq}[${value}]${eq}]" PARENT_SCOPE)
endfunction()

bracket(exe "${TEST_EXECUTABLE}")
bracket(dir "${TEST_WORKING_DIR}")
set(props "")
foreach(p IN LISTS properties)
  bracket(p_arg "${p}")
  string(APPEND props " ${p_arg}")
endforeach()

set(script "")
set(count 0)
# Walk the output line by line without turning it into a CMake list: test names may hold
# `;`, `[` or `]`.
string(REPLACE "\r" "" rest "${output}")
while(NOT rest STREQUAL "")
  string(FIND "${rest}" "\n" nl)
  if(nl EQUAL -1)
    set(name "${rest}")
    set(rest "")
  else()
    string(SUBSTRING "${rest}" 0 ${nl} name)
    math(EXPR nl "${nl} + 1")
    string(SUBSTRING "${rest}" ${nl} -1 rest)
  endif()
  if(name STREQUAL "")
    continue()
  endif()
  # A Catch2 test spec treats `\`, `,`, `[` and `]` specially; escape them.
  set(spec "${name}")
  foreach(c "\\" "," "[" "]")
    string(REPLACE "${c}" "\\${c}" spec "${spec}")
  endforeach()
  bracket(name_arg "${name}")
  bracket(spec_arg "${spec}")
  string(APPEND script
    "add_test(${name_arg} ${exe} ${spec_arg} --warn NoTests)\n"
    "set_tests_properties(${name_arg} PROPERTIES WORKING_DIRECTORY ${dir}${props})\n")
  math(EXPR count "${count} + 1")
endwhile()
if(NOT (count EQUAL result OR (result EQUAL 255 AND count GREATER 255)))
  listing_failed()
endif()

file(WRITE "${CTEST_FILE}" "${script}")
