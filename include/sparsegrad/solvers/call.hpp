// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_SOLVERS_CALL_HPP
#define SPARSEGRAD_SOLVERS_CALL_HPP

// How every backend calls a user's solver functor: sparsegrad's own exceptions and the standard
// ones of the error table (invalid_argument, domain_error) pass through unchanged; any other
// exception becomes solver_error, keeping its message.

#include <stdexcept>

#include "../detail/checks.hpp"
#include "../errors.hpp"

namespace sparsegrad {
namespace detail {

template <class Call>
decltype(auto) call_solver(const char* where, const char* what, Call&& call) {
  try {
    return call();
  } catch (const solver_error&) {
    throw;
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::domain_error&) {
    throw;
  } catch (const std::exception& e) {
    throw solver_error(concat("sparsegrad: ", where, ": the ", what, " threw: ", e.what()));
  } catch (...) {
    throw solver_error(concat("sparsegrad: ", where, ": the ", what,
                              " threw an exception not derived from std::exception"));
  }
}

}  // namespace detail
}  // namespace sparsegrad

#endif  // SPARSEGRAD_SOLVERS_CALL_HPP
