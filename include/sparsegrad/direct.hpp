// SPDX-License-Identifier: Apache-2.0
// Deprecated path, kept for one release (0.2): include the header(s) below instead.
#ifndef SPARSEGRAD_DIRECT_HPP
#define SPARSEGRAD_DIRECT_HPP

#include "solvers/direct.hpp"

#endif  // SPARSEGRAD_DIRECT_HPP
