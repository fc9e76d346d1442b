// SPDX-License-Identifier: Apache-2.0
// Deprecated path, kept for one release (0.2): include the header(s) below instead.
#ifndef SPARSEGRAD_PETSC_HPP
#define SPARSEGRAD_PETSC_HPP

#include "backends/petsc.hpp"

#endif  // SPARSEGRAD_PETSC_HPP
