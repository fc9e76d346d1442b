# sparsegrad_optional_missing(<option> <what> <debian-packages>): an optional part that is on
# (<option>) lacks its dependency <what>. A status line and the part is skipped, unless
# SPARSEGRAD_REQUIRE_ALL is on (the project's own CI), where it stops the configure. Never
# decided by the environment (CI=true), so a parent project's configure is never failed by it.
function(sparsegrad_optional_missing option what packages)
  if(SPARSEGRAD_REQUIRE_ALL)
    message(FATAL_ERROR "sparsegrad: ${option} is ON but ${what} was not found (Debian: "
                        "apt-get install ${packages}); SPARSEGRAD_REQUIRE_ALL=ON makes this an "
                        "error: install it, or configure with -D${option}=OFF")
  endif()
  message(STATUS "sparsegrad: ${what} not found, skipping ${option} (Debian: ${packages})")
endfunction()
