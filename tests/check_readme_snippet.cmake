# cmake -DREADME=<README.md> -DSNIPPET=<examples/readme_snippet.cpp> -P check_readme_snippet.cmake
# Fails unless the code block that follows the line "<!-- snippet: examples/readme_snippet.cpp -->"
# in the README is, byte for byte, the snippet file (which the examples build and ctest runs).
foreach(var README SNIPPET)
  if(NOT DEFINED ${var} OR NOT EXISTS "${${var}}")
    message(FATAL_ERROR "check_readme_snippet: -D${var}=<file> is missing or does not exist")
  endif()
endforeach()
file(READ "${README}" readme)
file(READ "${SNIPPET}" snippet)
set(marker "<!-- snippet: examples/readme_snippet.cpp -->\n```cpp\n")
string(FIND "${readme}" "${marker}" begin)
if(begin EQUAL -1)
  message(FATAL_ERROR "check_readme_snippet: ${README} has no line '<!-- snippet: "
                      "examples/readme_snippet.cpp -->' followed by a ```cpp fence")
endif()
string(LENGTH "${marker}" marker_length)
math(EXPR begin "${begin} + ${marker_length}")
string(SUBSTRING "${readme}" ${begin} -1 rest)
string(FIND "${rest}" "\n```\n" end)
if(end EQUAL -1)
  message(FATAL_ERROR "check_readme_snippet: the README's snippet block is not closed by ```")
endif()
math(EXPR end "${end} + 1")  # keep the last line's newline
string(SUBSTRING "${rest}" 0 ${end} block)
if(NOT block STREQUAL snippet)
  file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/readme_block.cpp" "${block}")
  message(FATAL_ERROR "check_readme_snippet: the README's code block differs from ${SNIPPET}; "
                      "compare with ${CMAKE_CURRENT_BINARY_DIR}/readme_block.cpp (diff -u) and "
                      "copy the file into the README")
endif()
message(STATUS "check_readme_snippet: the README's code block is ${SNIPPET}")
