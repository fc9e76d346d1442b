# The Eigen versions sparsegrad supports, 3.4 and 5.x, checked after an unversioned
# find_package(Eigen3 NO_MODULE). Used by sparsegrad's own build and by its installed package.
#
# No single versioned request is accepted by both versions' config files: Eigen 3.4's
# Eigen3ConfigVersion.cmake (CMake's SameMajorVersion) rejects every range whose maximum is not
# 3.x, so `3.4...5` fails with 3.4; Eigen 5's accepts a range containing 5.x but takes a plain
# `3.4` as 3.4.x only, so `3.4` fails with 5.x. Trying one request after the other would make the
# failed attempt reset a user's Eigen3_DIR. So: take the Eigen3 that the search finds (Eigen3_DIR,
# CMAKE_PREFIX_PATH, ... decide which) and check its version here.

# sparsegrad_check_eigen_version(<result-var>): sets <result-var> to an error message when the
# Eigen3 just found is outside [3.4, 6), to "" otherwise.
function(sparsegrad_check_eigen_version result)
  set(${result} "" PARENT_SCOPE)
  if(DEFINED Eigen3_VERSION AND NOT Eigen3_VERSION STREQUAL ""
     AND (Eigen3_VERSION VERSION_LESS 3.4 OR Eigen3_VERSION VERSION_GREATER_EQUAL 6))
    set(${result} "sparsegrad needs Eigen 3.4 or 5.x, found Eigen ${Eigen3_VERSION} in "
                  "${Eigen3_DIR}: set Eigen3_DIR to the directory of a suitable Eigen3Config.cmake"
        PARENT_SCOPE)
  endif()
endfunction()
