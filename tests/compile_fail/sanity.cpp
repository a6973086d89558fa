// expect: kiln-compile-fail-sanity
static_assert(false, "kiln-compile-fail-sanity");
