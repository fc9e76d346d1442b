// SPDX-License-Identifier: Apache-2.0
// Deprecated path, kept for one release (0.2): include the header(s) below instead.
#ifndef SPARSEGRAD_LSMR_HPP
#define SPARSEGRAD_LSMR_HPP

#include "krylov/lsmr.hpp"
#include "solvers/lsmr.hpp"

#endif  // SPARSEGRAD_LSMR_HPP
