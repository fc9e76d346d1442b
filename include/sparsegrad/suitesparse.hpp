// SPDX-License-Identifier: Apache-2.0
// Deprecated path, kept for one release (0.2): include the header(s) below instead.
#ifndef SPARSEGRAD_SUITESPARSE_HPP
#define SPARSEGRAD_SUITESPARSE_HPP

#include "backends/suitesparse.hpp"

#endif  // SPARSEGRAD_SUITESPARSE_HPP
