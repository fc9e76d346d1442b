// SPDX-License-Identifier: Apache-2.0
// Deprecated path, kept for one release (0.2): include the header(s) below instead.
#ifndef SPARSEGRAD_EIGEN_LSCG_HPP
#define SPARSEGRAD_EIGEN_LSCG_HPP

#include "solvers/eigen_lscg.hpp"

#endif  // SPARSEGRAD_EIGEN_LSCG_HPP
