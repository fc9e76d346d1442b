// Shared by the libFuzzer targets: a byte reader, and the checked run of lstsq + lstsq_backward.
//
// The contract under test (DESIGN.md, "Errors"): for any input, either an exception of the
// design's table is thrown (std::invalid_argument, std::domain_error, sparsegrad::solver_error
// and its subclass convergence_error), or the results are finite and correctly shaped, and the
// inputs are unchanged either way. Any other exception escapes the handlers below (there is no
// catch (...)), std::terminate aborts, and libFuzzer reports the input; so do crashes, sanitizer
// reports, Eigen assertions (the targets are built without NDEBUG) and hangs (-timeout).
#ifndef SPARSEGRAD_FUZZ_SUPPORT_HPP
#define SPARSEGRAD_FUZZ_SUPPORT_HPP

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sparsegrad/sparsegrad.hpp>
#include <type_traits>
#include <vector>
#ifdef SPARSEGRAD_FUZZ_VERBOSE
#include <iostream>
#include <typeinfo>
#endif

namespace fuzz {

/// Reads bytes front to back; past the end every read gives 0.
class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }

  /// A value of Scalar. Mostly small numbers (exactly representable eighths), sometimes powers
  /// of two over most of the exponent range, sometimes any 8 bytes as a double (NaN, ±Inf,
  /// subnormals, 1e308), converted to Scalar without undefined behaviour.
  template <class Scalar>
  Scalar value() {
    const std::uint8_t tag = u8();
    if (tag < 200) return Scalar(static_cast<std::int8_t>(u8())) / Scalar(8);
    if (tag < 235) {
      const int e = static_cast<int>(u8()) - 128;  // 2^-128 .. 2^127
      const double sign = (u8() & 1) ? -1.0 : 1.0;
      return to_scalar<Scalar>(sign *
                               std::ldexp(1.0, e * (std::is_same<Scalar, float>::value ? 1 : 2)));
    }
    double raw;
    std::uint8_t bytes[sizeof(double)];
    for (auto& b : bytes) b = u8();
    std::memcpy(&raw, bytes, sizeof raw);
    return to_scalar<Scalar>(raw);
  }

  /// An index for a dimension `dim`: in range most of the time, else one of the edge cases.
  template <class StorageIndex>
  StorageIndex index(Eigen::Index dim) {
    const std::uint8_t b = u8();
    if (b < 248 && dim > 0) return static_cast<StorageIndex>(b % dim);
    switch (b % 6) {
      case 0:
        return -1;
      case 1:
        return static_cast<StorageIndex>(dim);
      case 2:
        return static_cast<StorageIndex>(dim + 1);
      case 3:
        return std::numeric_limits<StorageIndex>::max();
      case 4:
        return std::numeric_limits<StorageIndex>::min();
      default:
        return 0;
    }
  }

 private:
  template <class Scalar>
  static Scalar to_scalar(double v) {
    // double -> float of a finite value beyond float's range is undefined: saturate to ±inf.
    if (std::isfinite(v) && std::abs(v) > double(std::numeric_limits<Scalar>::max()))
      return v > 0 ? std::numeric_limits<Scalar>::infinity()
                   : -std::numeric_limits<Scalar>::infinity();
    return static_cast<Scalar>(v);
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "sparsegrad fuzz: contract violated: %s\n", what);
  std::abort();
}

inline void require(bool ok, const char* what) {
  if (!ok) fail(what);
}

template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& M) {
  for (Eigen::Index j = 0; j < M.cols(); ++j)
    for (Eigen::Index i = 0; i < M.rows(); ++i)
      if (!sparsegrad::detail::is_finite(M.coeff(i, j))) return false;
  return true;
}

template <class Derived>
bool same_bits(const Eigen::PlainObjectBase<Derived>& a, const Eigen::PlainObjectBase<Derived>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a.size() == 0 ||
          std::memcmp(a.data(), b.data(), sizeof(typename Derived::Scalar) * a.size()) == 0);
}

// ---- what a gradient must look like -----------------------------------------------------------

template <class Scalar, class StorageIndex>
void check_gradient_A(const sparsegrad::CooMatrix<Scalar, StorageIndex>& A,
                      const sparsegrad::CooMatrix<Scalar, StorageIndex>& G) {
  require(G.rows == A.rows && G.cols == A.cols, "g.A has A's dimensions");
  require(G.row == A.row && G.col == A.col, "g.A has A's row and col arrays");
  require(G.values.size() == A.values.size(), "g.A has one value per entry of A");
  require(all_finite(G.values), "g.A is finite");
}

template <class SparseA, class SparseG>
void check_gradient_A(const SparseA& A, const SparseG& G) {
  require(G.rows() == A.rows() && G.cols() == A.cols(), "g.A has A's dimensions");
  require(G.nonZeros() == A.nonZeros(), "g.A has A's number of entries");
  for (Eigen::Index o = 0; o < A.outerSize(); ++o) {
    typename SparseA::InnerIterator a(A, o);
    typename SparseG::InnerIterator g(G, o);
    for (; a; ++a, ++g) {
      require(bool(g) && g.index() == a.index(), "g.A has A's pattern and entry order");
      require(sparsegrad::detail::is_finite(g.value()), "g.A is finite");
    }
    require(!g, "g.A has no extra entries");
  }
}

inline void report(const std::exception& e) {
#ifdef SPARSEGRAD_FUZZ_VERBOSE
  std::cerr << "threw " << typeid(e).name() << ": " << e.what() << "\n";
#else
  (void)e;
#endif
}

/// Options for LSMR that keep every run short: maxiter is always bounded.
template <class Scalar>
sparsegrad::LsmrOptions<Scalar> bounded_options(Bytes& in) {
  sparsegrad::LsmrOptions<Scalar> opt;
  const std::uint8_t a = in.u8(), b = in.u8();
  const Scalar tolerances[] = {Scalar(1e-6), Scalar(1e-10), Scalar(0), Scalar(1e-3)};
  opt.atol = tolerances[a & 3];
  opt.btol = tolerances[(a >> 2) & 3];
  const Scalar conlims[] = {Scalar(1e8), Scalar(10), Scalar(1),
                            std::numeric_limits<Scalar>::infinity()};
  opt.conlim = conlims[(a >> 4) & 3];
  opt.throw_on_failure = !(a & 64);
  const Eigen::Index maxiters[] = {0, 1, 3, 8, 30, 60, 60, 60};
  opt.maxiter = maxiters[b & 7];
  // Now and then an option out of range, which must be an std::invalid_argument.
  switch ((b >> 3) & 15) {
    case 0:
      opt.atol = Scalar(-1);
      break;
    case 1:
      opt.conlim = Scalar(0.5);
      break;
    case 2:
      opt.maxiter = -1;
      break;
    case 3:
      opt.damp = std::numeric_limits<Scalar>::quiet_NaN();
      break;
    case 4:
      opt.damp = Scalar(0.5);
      break;
    default:
      break;
  }
  return opt;
}

/// lstsq then lstsq_backward on (A, B, dX) with `solver`; checks shapes, finiteness and that B
/// and dX did not change (the caller checks A). Exceptions of the design's table are the other
/// allowed outcome.
template <class AType, class BType, class DXType, class Solver>
void run_checked(const AType& A, const BType& B, const DXType& dX, Solver& solver,
                 bool default_solver) {
  const BType B_copy = B;
  const DXType dX_copy = dX;
  const Eigen::Index n = sparsegrad::detail::cols_of(A);
#ifdef SPARSEGRAD_FUZZ_VERBOSE  // replay.cpp: print the decoded problem
  std::cerr.precision(17);
  std::cerr << "A (" << sparsegrad::detail::rows_of(A) << "x" << n << "), entries:\n";
  sparsegrad::detail::for_each_entry(
      A, [](Eigen::Index e, Eigen::Index i, Eigen::Index j, const auto& v) {
        std::cerr << "  " << e << ": (" << i << ", " << j << ") " << v << "\n";
      });
  std::cerr << "B =\n" << B << "\ndX =\n" << dX << "\n";
#endif
  try {
    const auto X = default_solver ? sparsegrad::lstsq(A, B) : sparsegrad::lstsq(A, B, solver);
    require(X.rows() == n && X.cols() == B.cols(), "X is n x k");
    require(all_finite(X), "X is finite");
#ifdef SPARSEGRAD_FUZZ_VERBOSE
    std::cerr << "X =\n" << X << "\n";
#endif
    const auto g = default_solver ? sparsegrad::lstsq_backward(A, B, X, dX)
                                  : sparsegrad::lstsq_backward(A, B, X, dX, solver);
    check_gradient_A(A, g.A);
    require(g.B.rows() == B.rows() && g.B.cols() == B.cols(), "g.B is shaped like B");
    require(all_finite(g.B), "g.B is finite");
    require(std::isfinite(double(g.damp)), "g.damp is finite");
  } catch (const std::invalid_argument& e) {
    report(e);
  } catch (const std::domain_error& e) {
    report(e);
  } catch (const sparsegrad::solver_error& e) {
    report(e);
  }
  require(same_bits(B, B_copy) && same_bits(dX, dX_copy), "B and dX unchanged");
}

template <class Scalar, class StorageIndex>
bool same_matrix(const sparsegrad::CooMatrix<Scalar, StorageIndex>& a,
                 const sparsegrad::CooMatrix<Scalar, StorageIndex>& b) {
  return a.rows == b.rows && a.cols == b.cols && same_bits(a.row, b.row) &&
         same_bits(a.col, b.col) && same_bits(a.values, b.values);
}

/// Bitwise equality of two compressed Eigen sparse matrices.
template <class Sparse>
bool same_matrix(const Sparse& a, const Sparse& b) {
  using Index = typename Sparse::StorageIndex;
  using Scalar = typename Sparse::Scalar;
  return a.rows() == b.rows() && a.cols() == b.cols() && a.nonZeros() == b.nonZeros() &&
         std::memcmp(a.outerIndexPtr(), b.outerIndexPtr(), sizeof(Index) * (a.outerSize() + 1)) ==
             0 &&
         (a.nonZeros() == 0 ||
          (std::memcmp(a.innerIndexPtr(), b.innerIndexPtr(), sizeof(Index) * a.nonZeros()) == 0 &&
           std::memcmp(a.valuePtr(), b.valuePtr(), sizeof(Scalar) * a.nonZeros()) == 0));
}

}  // namespace fuzz

#endif  // SPARSEGRAD_FUZZ_SUPPORT_HPP
