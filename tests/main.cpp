// SPDX-License-Identifier: BSD-3-Clause
// The Catch2 main of kiln_tests; test cases live in the files beside it.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
