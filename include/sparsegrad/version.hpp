// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_VERSION_HPP
#define SPARSEGRAD_VERSION_HPP

/// \file version.hpp
/// The library's version, also in CMake (project VERSION) and in the Python package.

#define SPARSEGRAD_VERSION_MAJOR 0
#define SPARSEGRAD_VERSION_MINOR 2
#define SPARSEGRAD_VERSION_PATCH 0
/// MAJOR * 10000 + MINOR * 100 + PATCH, for preprocessor comparisons.
#define SPARSEGRAD_VERSION \
  (SPARSEGRAD_VERSION_MAJOR * 10000 + SPARSEGRAD_VERSION_MINOR * 100 + SPARSEGRAD_VERSION_PATCH)
/// "MAJOR.MINOR.PATCH"
#define SPARSEGRAD_VERSION_STRING "0.2.0"

#endif  // SPARSEGRAD_VERSION_HPP
