# Runs one compile-fail test: cmake -DCOMPILER=... -DFLAGS_FILE=... -DSOURCE=... -P <this>.
# Passes when SOURCE does not compile and the diagnostics match the regex on its first
# line, `// expect: <regex>`.
foreach(var COMPILER FLAGS_FILE SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_compile_fail.cmake: -D${var}=... is required")
  endif()
endforeach()

file(STRINGS "${SOURCE}" first_line LIMIT_COUNT 1)
if(NOT first_line MATCHES "^// expect: *(.*[^ ]) *$")
  message(FATAL_ERROR "${SOURCE}: the first line must be `// expect: <regex>`")
endif()
set(expected "${CMAKE_MATCH_1}")

execute_process(
  COMMAND "${COMPILER}" "@${FLAGS_FILE}" -fsyntax-only "${SOURCE}"
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)

if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must fail with an error matching: ${expected}")
endif()
if(NOT output MATCHES "${expected}")
  message("--- compiler output ---\n${output}-----------------------")
  message(FATAL_ERROR "${SOURCE} failed to compile, but not with an error matching: ${expected}")
endif()
message(STATUS "${SOURCE}: fails as expected (${expected})")
