// SPDX-License-Identifier: Apache-2.0
// Deprecated path, kept for one release (0.2): include the header(s) below instead.
#ifndef SPARSEGRAD_CRAIG_HPP
#define SPARSEGRAD_CRAIG_HPP

#include "krylov/craig.hpp"
#include "solvers/lsmr.hpp"

#endif  // SPARSEGRAD_CRAIG_HPP
