// SPDX-License-Identifier: Apache-2.0
// Deprecated path, kept for one release (0.2): include the header(s) below instead.
#ifndef SPARSEGRAD_TORCH_HPP
#define SPARSEGRAD_TORCH_HPP

#include "backends/torch.hpp"

#endif  // SPARSEGRAD_TORCH_HPP
