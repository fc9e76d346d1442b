// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_SPARSEGRAD_HPP
#define SPARSEGRAD_SPARSEGRAD_HPP

/// \file sparsegrad.hpp
/// Umbrella header: sparse least squares min ‖AX − B‖ with LSMR (or any solver functor) and its
/// reverse-mode adjoint dL/dB, dL/dA on A's nonzero pattern. Everything but the link-dependent
/// backends (backends/suitesparse.hpp, backends/torch.hpp, backends/petsc.hpp).
///
/// Layout, in the order the data flows:
///   coo.hpp, matrix.hpp, io.hpp            the matrix formats accepted as A
///   operator.hpp, preconditioner.hpp       the matrix-free view every solver sees
///   krylov/                                LSMR and CRAIG, generic over operator and vectors
///   solvers/                               the solver functors and their concept
///   lstsq.hpp, adjoint.hpp, gradcheck.hpp  the two calls and their check
///   backends/                              SuiteSparse, LibTorch, PETSc (opt-in)

#include "coo.hpp"
#include "diagnostics.hpp"
#include "errors.hpp"
#include "gradcheck.hpp"
#include "io.hpp"
#include "lstsq.hpp"
#include "matrix.hpp"
#include "operator.hpp"
#include "preconditioner.hpp"
#include "solvers/direct.hpp"
#include "solvers/eigen_lscg.hpp"
#include "solvers/lsmr.hpp"
#include "version.hpp"

#endif  // SPARSEGRAD_SPARSEGRAD_HPP
