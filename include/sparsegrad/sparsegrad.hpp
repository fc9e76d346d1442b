// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_SPARSEGRAD_HPP
#define SPARSEGRAD_SPARSEGRAD_HPP

/// \file sparsegrad.hpp
/// Umbrella header: sparse least squares min ‖AX − B‖ with LSMR (or any solver functor) and its
/// reverse-mode adjoint dL/dB, dL/dA on A's nonzero pattern.

#include "coo.hpp"
#include "direct.hpp"
#include "eigen_lscg.hpp"
#include "errors.hpp"
#include "gradcheck.hpp"
#include "io.hpp"
#include "lsmr.hpp"
#include "lstsq.hpp"
#include "operator.hpp"
#include "preconditioner.hpp"

#endif  // SPARSEGRAD_SPARSEGRAD_HPP
