// The bad-input catalogue: every row of the design's error table, each case asserting the
// exception type, that the message names the argument with the expected and the got values, and
// that every input is bit-for-bit unchanged afterwards. Then the inputs that look odd but are
// valid (zero sizes, k = 0, square A, uncompressed CSR) and the "nothing silent" policy:
// non-convergence and rank deficiency are thrown, or returned with diagnostics on request.
#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <sparsegrad/sparsegrad.hpp>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

#include "test_support.hpp"

namespace {

using sparsegrad::CooMatrix;
using testing::Csc;
using testing::Csr;
using testing::Dense;

template <class Scalar>
using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

// ---- bit-for-bit snapshots of the inputs -------------------------------------------------------

template <class T>
std::vector<unsigned char> bytes_of(const T* data, Eigen::Index count) {
  std::vector<unsigned char> out(sizeof(T) * static_cast<std::size_t>(count));
  if (count > 0) std::memcpy(out.data(), data, out.size());
  return out;
}

/// The raw storage of a dense matrix or vector, with its shape.
struct DenseBits {
  Eigen::Index rows = 0, cols = 0;
  std::vector<unsigned char> data;
  bool operator==(const DenseBits& o) const {
    return rows == o.rows && cols == o.cols && data == o.data;
  }
};
template <class Derived>
DenseBits bits(const Eigen::PlainObjectBase<Derived>& M) {
  return {M.rows(), M.cols(), bytes_of(M.data(), M.size())};
}

/// The raw storage of an Eigen sparse matrix (compressed or not, free slots included).
struct SparseBits {
  Eigen::Index rows = 0, cols = 0;
  bool compressed = true;
  std::vector<unsigned char> outer, inner_nnz, inner, values;
  bool operator==(const SparseBits& o) const {
    return rows == o.rows && cols == o.cols && compressed == o.compressed && outer == o.outer &&
           inner_nnz == o.inner_nnz && inner == o.inner && values == o.values;
  }
};
template <class Scalar, int Options, class StorageIndex>
SparseBits bits(const Eigen::SparseMatrix<Scalar, Options, StorageIndex>& S) {
  SparseBits b;
  b.rows = S.rows(), b.cols = S.cols(), b.compressed = S.isCompressed();
  b.outer = bytes_of(S.outerIndexPtr(), S.outerSize() + 1);
  if (!S.isCompressed()) b.inner_nnz = bytes_of(S.innerNonZeroPtr(), S.outerSize());
  b.inner = bytes_of(S.innerIndexPtr(), S.data().size());
  b.values = bytes_of(S.valuePtr(), S.data().size());
  return b;
}

template <class Scalar>
struct Inputs;

/// Everything a case can pass to the library, as bytes.
struct Snapshot {
  Eigen::Index coo_rows = 0, coo_cols = 0;
  DenseBits coo_row, coo_col, coo_values, b, x, dx, B, X, dX, x0;
  SparseBits csr, csc, uncompressed;
  std::vector<unsigned char> options;
  bool operator==(const Snapshot& o) const {
    return coo_rows == o.coo_rows && coo_cols == o.coo_cols && coo_row == o.coo_row &&
           coo_col == o.coo_col && coo_values == o.coo_values && b == o.b && x == o.x &&
           dx == o.dx && B == o.B && X == o.X && dX == o.dX && x0 == o.x0 && csr == o.csr &&
           csc == o.csc && uncompressed == o.uncompressed && options == o.options;
  }
};

// ---- the inputs of a case ----------------------------------------------------------------------

/// A valid problem in every form a case may need; a case spoils one piece of it.
/// A is the seed's 5x3 docstring example; X is its least-squares solution (dense QR).
template <class Scalar>
struct Inputs {
  CooMatrix<Scalar> coo;
  Csr<Scalar> csr, uncompressed;
  Csc<Scalar> csc;
  Vec<Scalar> b, x, dx;
  Dense<Scalar> B, X, dX;
  sparsegrad::LsmrOptions<Scalar> options;

  Inputs() {
    coo.rows = 5, coo.cols = 3;
    coo.row.resize(8), coo.col.resize(8), coo.values.resize(8);
    coo.row << 0, 1, 2, 3, 4, 1, 2, 3;
    coo.col << 0, 0, 0, 0, 1, 1, 1, 2;
    coo.values << 1, 2, 1, 3, 1, 2, 1, 1;
    refresh_sparse();
    B = testing::random_dense<Scalar>(5, 4, 11);
    b = B.col(0);
    solve_x();
    dX = testing::random_dense<Scalar>(coo.cols, 4, 12);
    dx = dX.col(0);
  }

  /// Recomputes the Eigen forms after a change of `coo`.
  void refresh_sparse() {
    csr = sparsegrad::to_csr(coo);
    csc = sparsegrad::to_csc(coo);
    uncompressed = csr;
    uncompressed.uncompress();
  }

  /// X, x = the minimum-norm least-squares solution of the current coo, b, B (dense reference).
  void solve_x() {
    const Dense<double> A = testing::dense(coo).template cast<double>();
    X = testing::dense_lstsq(A, B.template cast<double>()).template cast<Scalar>();
    x = X.col(0);
  }

  Snapshot snapshot() const {
    Snapshot s;
    s.coo_rows = coo.rows, s.coo_cols = coo.cols;
    s.coo_row = bits(coo.row), s.coo_col = bits(coo.col), s.coo_values = bits(coo.values);
    s.b = bits(b), s.x = bits(x), s.dx = bits(dx), s.B = bits(B), s.X = bits(X), s.dX = bits(dX);
    s.x0 = bits(options.x0);
    s.csr = bits(csr), s.csc = bits(csc), s.uncompressed = bits(uncompressed);
    // The scalar options, field by field (no padding bytes).
    for (const auto* p : {&options.atol, &options.btol, &options.conlim, &options.damp}) {
      const auto raw = bytes_of(p, 1);
      s.options.insert(s.options.end(), raw.begin(), raw.end());
    }
    s.options.push_back(options.maxiter.has_value());
    const Eigen::Index maxiter_value = options.maxiter.value_or(-7);
    const auto maxiter = bytes_of(&maxiter_value, 1);
    s.options.insert(s.options.end(), maxiter.begin(), maxiter.end());
    s.options.push_back(options.throw_on_failure);
    return s;
  }
};

// ---- the catalogue -----------------------------------------------------------------------------

enum class Kind { invalid_argument, domain_error, solver_error, convergence_error };

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::invalid_argument:
      return "std::invalid_argument";
    case Kind::domain_error:
      return "std::domain_error";
    case Kind::solver_error:
      return "sparsegrad::solver_error";
    case Kind::convergence_error:
      return "sparsegrad::convergence_error";
  }
  return "?";
}

/// The exact dynamic type, not just a base: a wrapped error must not pass as an unwrapped one.
bool is_exactly(const std::exception& e, Kind kind) {
  switch (kind) {
    case Kind::invalid_argument:
      return typeid(e) == typeid(std::invalid_argument);
    case Kind::domain_error:
      return typeid(e) == typeid(std::domain_error);
    case Kind::solver_error:
      return typeid(e) == typeid(sparsegrad::solver_error);
    case Kind::convergence_error:
      return typeid(e) == typeid(sparsegrad::convergence_error);
  }
  return false;
}

template <class Scalar>
struct Case {
  std::string name;
  Kind kind;
  std::vector<std::string> message;                 // substrings the message must contain
  std::function<void(Inputs<Scalar>&)> spoil;       // makes one input bad
  std::function<void(const Inputs<Scalar>&)> call;  // one library call on the inputs
};

/// Runs one case: the exception type, the message, and that no input changed.
template <class Scalar>
void run_case(const Case<Scalar>& c) {
  Inputs<Scalar> in;
  if (c.spoil) c.spoil(in);
  const Snapshot before = in.snapshot();
  bool threw = false;
  try {
    c.call(in);
  } catch (const std::exception& e) {
    threw = true;
    const std::string what = e.what();
    INFO("message: " << what);
    INFO("thrown type: " << typeid(e).name() << ", expected " << kind_name(c.kind));
    CHECK(is_exactly(e, c.kind));
    for (const auto& part : c.message) {
      INFO("message part: " << part);
      CHECK(what.find(part) != std::string::npos);
    }
  }
  CHECK(threw);
  CHECK(in.snapshot() == before);
}

template <class Scalar>
using M = Dense<Scalar>;

// Solver functors that misbehave. Each receives A as the user passed it and B as m x k.
struct ThrowsRuntime {
  template <class A, class B>
  B operator()(const A&, const B&) const {
    throw std::runtime_error("factorization failed: out of memory (from the user's solver)");
  }
};
struct ThrowsLogic {
  template <class A, class B>
  B operator()(const A&, const B&) const {
    throw std::logic_error("solver misconfigured");
  }
};
struct ThrowsConvergence {
  template <class A, class B>
  B operator()(const A&, const B&) const {
    sparsegrad::ConvergenceDiagnostics d;
    d.istop = {7}, d.itn = {3}, d.normr = {1.5}, d.normar = {0.25}, d.norma = {2}, d.conda = {9};
    d.normx = {4};
    throw sparsegrad::convergence_error("my solver gave up after 3 iterations", d);
  }
};
struct ThrowsSolverError {
  template <class A, class B>
  B operator()(const A&, const B&) const {
    throw sparsegrad::solver_error("custom solver_error from the user");
  }
};
/// Returns an (n + extra_rows) x (k + extra_cols) matrix of ones, or NaN/Inf at (0, 0).
template <class Scalar>
struct ReturnsShape {
  Eigen::Index extra_rows = 0, extra_cols = 0;
  Scalar first = Scalar(1);
  template <class A>
  M<Scalar> operator()(const A& a, const M<Scalar>& B) const {
    M<Scalar> out =
        M<Scalar>::Ones(sparsegrad::detail::cols_of(a) + extra_rows, B.cols() + extra_cols);
    if (out.size() > 0) out(0, 0) = first;
    return out;
  }
};
/// Returns an n-vector whatever k is.
template <class Scalar>
struct ReturnsVector {
  template <class A>
  Vec<Scalar> operator()(const A& a, const M<Scalar>&) const {
    return Vec<Scalar>::Ones(sparsegrad::detail::cols_of(a));
  }
};
/// A correct transpose solver (dense minimum-norm solve of Aᵀ Y = G), for the two-solve form.
template <class Scalar>
struct DenseTransposeSolver {
  template <class A>
  M<Scalar> operator()(const A& a, const M<Scalar>& G) const {
    const Dense<double> D = testing::dense(a).template cast<double>();
    return testing::dense_lstsq(D.transpose(), G.template cast<double>()).template cast<Scalar>();
  }
};
/// A solver with solve_normal that returns the wrong shape.
template <class Scalar>
struct BadNormalSolver {
  template <class A>
  M<Scalar> operator()(const A& a, const M<Scalar>& B) const {
    return M<Scalar>::Zero(sparsegrad::detail::cols_of(a), B.cols());
  }
  template <class A>
  M<Scalar> solve_normal(const A& a, const M<Scalar>& G) const {
    return M<Scalar>::Zero(sparsegrad::detail::cols_of(a), G.cols() + 1);
  }
};

template <class Scalar>
std::vector<Case<Scalar>> catalogue() {
  using In = Inputs<Scalar>;
  using sparsegrad::lsmr;
  using sparsegrad::lstsq;
  using sparsegrad::lstsq_backward;
  const Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
  const Scalar inf = std::numeric_limits<Scalar>::infinity();
  const auto invalid = Kind::invalid_argument;
  const auto domain = Kind::domain_error;
  const auto solver = Kind::solver_error;
  std::vector<Case<Scalar>> cases;
  auto add = [&](std::string name, Kind kind, std::vector<std::string> message,
                 std::function<void(In&)> spoil, std::function<void(const In&)> call) {
    cases.push_back({std::move(name), kind, std::move(message), std::move(spoil), std::move(call)});
  };
  auto drop_last_row = [](auto& M_) { M_.conservativeResize(M_.rows() - 1, M_.cols()); };
  auto add_row = [](auto& M_) {
    M_.conservativeResize(M_.rows() + 1, M_.cols());
    M_.row(M_.rows() - 1).setOnes();
  };

  // -- shape mismatches among A, B, X, dX ---------------------------------------------------------
  add(
      "lstsq: b (vector) has too few rows", invalid,
      {"lstsq", "argument 'B'", "expected 5 rows", "got 4x1"}, [=](In& in) { drop_last_row(in.b); },
      [](const In& in) { lstsq(in.coo, in.b); });
  add(
      "lstsq: B (matrix) has too many rows", invalid,
      {"argument 'B'", "expected 5 rows", "got 6x4"}, [=](In& in) { add_row(in.B); },
      [](const In& in) { lstsq(in.coo, in.B); });
  add(
      "lstsq on CSR: B has too few rows", invalid, {"argument 'B'", "expected 5 rows", "got 4x4"},
      [=](In& in) { drop_last_row(in.B); }, [](const In& in) { lstsq(in.csr, in.B); });
  add(
      "lstsq with a solver on CSC: b has too few rows", invalid,
      {"argument 'B'", "expected 5 rows", "got 4x1"}, [=](In& in) { drop_last_row(in.b); },
      [](const In& in) { lstsq(in.csc, in.b, ReturnsShape<Scalar>{}); });
  add(
      "lsmr(): B has too few rows", invalid,
      {"lsmr", "argument 'B'", "expected 5 rows", "got 4 rows"},
      [=](In& in) { drop_last_row(in.B); }, [](const In& in) { lsmr(in.csr, in.B); });
  add(
      "backward: B has too few rows", invalid,
      {"lstsq_backward", "argument 'B'", "expected 5 rows", "got 4x1"},
      [=](In& in) { drop_last_row(in.b); },
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dx); });
  add(
      "backward: x has too few rows", invalid, {"argument 'X'", "expected 3x1", "got 2x1"},
      [=](In& in) { drop_last_row(in.x); },
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dx); });
  add(
      "backward: x has m rows instead of n", invalid, {"argument 'X'", "expected 3x1", "got 5x1"},
      [](In& in) { in.x = in.b; }, [](const In& in) { lstsq_backward(in.csr, in.b, in.x, in.dx); });
  add(
      "backward: X has the wrong k", invalid, {"argument 'X'", "expected 3x4", "got 3x3"},
      [](In& in) { in.X.conservativeResize(3, 3); },
      [](const In& in) { lstsq_backward(in.coo, in.B, in.X, in.dX); });
  add("backward: X is a vector for a matrix B", invalid,
      {"argument 'X'", "expected 3x4", "got 3x1"}, nullptr,
      [](const In& in) { lstsq_backward(in.coo, in.B, in.x, in.dX); });
  add("backward: X is a matrix for a vector b", invalid,
      {"argument 'X'", "expected 3x1", "got 3x4"}, nullptr,
      [](const In& in) { lstsq_backward(in.csc, in.b, in.X, in.dx); });
  add(
      "backward: dx has too many rows", invalid, {"argument 'dX'", "expected 3x1", "got 4x1"},
      [=](In& in) { add_row(in.dx); },
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dx); });
  add(
      "backward: dX has the wrong k", invalid, {"argument 'dX'", "expected 3x4", "got 3x2"},
      [](In& in) { in.dX.conservativeResize(3, 2); },
      [](const In& in) { lstsq_backward(in.csr, in.B, in.X, in.dX); });
  add("backward: dX is a vector for a matrix X", invalid,
      {"argument 'dX'", "expected 3x4", "got 3x1"}, nullptr,
      [](const In& in) { lstsq_backward(in.coo, in.B, in.X, in.dx); });
  add("backward: dX is a matrix for a vector x", invalid,
      {"argument 'dX'", "expected 3x1", "got 3x4"}, nullptr,
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dX); });
  add(
      "backward (two-solve form): dX has too few rows", invalid,
      {"argument 'dX'", "expected 3x4", "got 2x4"}, [=](In& in) { drop_last_row(in.dX); },
      [](const In& in) {
        lstsq_backward(in.coo, in.B, in.X, in.dX, ReturnsShape<Scalar>{},
                       DenseTransposeSolver<Scalar>{});
      });

  // -- malformed COO
  // --------------------------------------------------------------------------------
  add(
      "COO row index negative", invalid,
      {"argument 'A'", "expected row indices in [0, 5)", "got row[2] = -1"},
      [](In& in) { in.coo.row[2] = -1; }, [](const In& in) { lstsq(in.coo, in.b); });
  add(
      "COO row index = rows", invalid,
      {"argument 'A'", "expected row indices in [0, 5)", "got row[6] = 5"},
      [](In& in) { in.coo.row[6] = 5; }, [](const In& in) { lstsq(in.coo, in.B); });
  add(
      "COO column index negative", invalid,
      {"argument 'A'", "expected column indices in [0, 3)", "got col[0] = -2"},
      [](In& in) { in.coo.col[0] = -2; },
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dx); });
  add(
      "COO column index = cols", invalid,
      {"argument 'A'", "expected column indices in [0, 3)", "got col[7] = 3"},
      [](In& in) { in.coo.col[7] = 3; }, [](const In& in) { lsmr(in.coo, in.B); });
  add(
      "COO column index far beyond cols", invalid,
      {"argument 'A'", "expected column indices in [0, 3)", "got col[4] = 1000000"},
      [](In& in) { in.coo.col[4] = 1000000; },
      [](const In& in) { lstsq(in.coo, in.b, ReturnsShape<Scalar>{}); });
  add(
      "COO row array shorter", invalid,
      {"argument 'A'", "expected row, col and values of equal length",
       "got row: 7, col: 8, values: 8"},
      [](In& in) { in.coo.row.conservativeResize(7); }, [](const In& in) { lstsq(in.coo, in.b); });
  add(
      "COO col array longer", invalid,
      {"argument 'A'", "expected row, col and values of equal length",
       "got row: 8, col: 9, values: 8"},
      [](In& in) {
        in.coo.col.conservativeResize(9);
        in.coo.col[8] = 0;
      },
      [](const In& in) { lstsq_backward(in.coo, in.B, in.X, in.dX); });
  add(
      "COO values array shorter", invalid,
      {"argument 'A'", "expected row, col and values of equal length",
       "got row: 8, col: 8, values: 6"},
      [](In& in) { in.coo.values.conservativeResize(6); },
      [](const In& in) { lstsq(in.coo, in.B); });
  add(
      "COO negative rows", invalid,
      {"argument 'A'", "expected dimensions in [0, 2147483647]", "got rows = -1, cols = 3"},
      [](In& in) { in.coo.rows = -1; }, [](const In& in) { lstsq(in.coo, in.b); });
  add(
      "COO negative cols", invalid,
      {"argument 'A'", "expected dimensions in [0, 2147483647]", "got rows = 5, cols = -3"},
      [](In& in) { in.coo.cols = -3; },
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dx); });
  add(
      "COO rows beyond the int StorageIndex", invalid,
      {"argument 'A'", "expected dimensions in [0, 2147483647]", "got rows = 3000000000, cols = 3"},
      [](In& in) { in.coo.rows = 3000000000LL; }, [](const In& in) { lstsq(in.coo, in.b); });

  // -- NaN and Inf
  // ---------------------------------------------------------------------------------
  add(
      "NaN in COO values", invalid,
      {"argument 'A'", "expected finite values", "got nan at entry 3 (3, 0)"},
      [=](In& in) { in.coo.values[3] = nan; }, [](const In& in) { lstsq(in.coo, in.b); });
  add(
      "+Inf in COO values (backward)", invalid,
      {"argument 'A'", "expected finite values", "got inf at entry 0"},
      [=](In& in) { in.coo.values[0] = inf; },
      [](const In& in) { lstsq_backward(in.coo, in.B, in.X, in.dX); });
  add(
      "NaN in CSR values", invalid,
      {"argument 'A'", "expected finite values", "got nan at stored entry"},
      [=](In& in) { in.csr.valuePtr()[4] = nan; }, [](const In& in) { lstsq(in.csr, in.B); });
  add(
      "-Inf in CSC values", invalid,
      {"argument 'A'", "expected finite values", "got -inf at stored entry"},
      [=](In& in) { in.csc.valuePtr()[1] = -inf; }, [](const In& in) { lstsq(in.csc, in.b); });
  add(
      "NaN in a Map of CSR (backward)", invalid,
      {"argument 'A'", "expected finite values", "got nan"},
      [=](In& in) { in.csr.valuePtr()[0] = nan; },
      [](const In& in) {
        const Eigen::Map<const Csr<Scalar>> map(in.csr.rows(), in.csr.cols(), in.csr.nonZeros(),
                                                in.csr.outerIndexPtr(), in.csr.innerIndexPtr(),
                                                in.csr.valuePtr());
        lstsq_backward(map, in.b, in.x, in.dx);
      });
  add(
      "NaN in COO values (lsmr)", invalid, {"lsmr", "argument 'A'", "got nan"},
      [=](In& in) { in.coo.values[7] = nan; }, [](const In& in) { lsmr(in.coo, in.B); });
  add(
      "NaN in b", invalid, {"argument 'B'", "expected finite values", "got nan at (2, 0)"},
      [=](In& in) { in.b[2] = nan; }, [](const In& in) { lstsq(in.coo, in.b); });
  add(
      "+Inf in B", invalid, {"argument 'B'", "expected finite values", "got inf at (4, 3)"},
      [=](In& in) { in.B(4, 3) = inf; }, [](const In& in) { lstsq(in.csr, in.B); });
  add(
      "-Inf in B (backward)", invalid, {"lstsq_backward", "argument 'B'", "got -inf at (0, 1)"},
      [=](In& in) { in.B(0, 1) = -inf; },
      [](const In& in) { lstsq_backward(in.coo, in.B, in.X, in.dX); });
  add(
      "NaN in x (backward)", invalid,
      {"argument 'X'", "expected finite values", "got nan at (1, 0)"},
      [=](In& in) { in.x[1] = nan; },
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dx); });
  add(
      "+Inf in X (backward)", invalid, {"argument 'X'", "got inf at (2, 3)"},
      [=](In& in) { in.X(2, 3) = inf; },
      [](const In& in) { lstsq_backward(in.csc, in.B, in.X, in.dX); });
  add(
      "NaN in dx (backward)", invalid,
      {"argument 'dX'", "expected finite values", "got nan at (0, 0)"},
      [=](In& in) { in.dx[0] = nan; },
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dx); });
  add(
      "-Inf in dX (backward)", invalid, {"argument 'dX'", "got -inf at (2, 1)"},
      [=](In& in) { in.dX(2, 1) = -inf; },
      [](const In& in) { lstsq_backward(in.csr, in.B, in.X, in.dX); });

  // -- where the math needs a tall A of full column rank
  // --------------------------------------------- A wide A that is also rank-deficient (two equal
  // rows) is refused whether or not wide A is supported in the backward pass (its rows are
  // dependent, so no gradient formula applies).
  add(
      "backward: wide, rank-deficient A", domain,
      {"lstsq_backward", "argument 'A'", "expected", "got"},
      [](In& in) {
        CooMatrix<Scalar> W;
        W.rows = 3, W.cols = 5;
        W.row.resize(10), W.col.resize(10), W.values.resize(10);
        W.row << 0, 0, 0, 1, 1, 1, 2, 2, 2, 2;
        W.col << 0, 2, 4, 0, 2, 4, 1, 2, 3, 4;
        W.values << 1, 2, 3, 1, 2, 3, 1, -1, 2, 1;
        in.coo = W;
        in.b = in.b.head(3).eval();
        in.B = in.B.topRows(3).eval();
        in.x = in.dx = Vec<Scalar>::Ones(5);
      },
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dx); });
  add(
      "backward: A with an empty column (rank-deficient)", domain,
      {"argument 'A'", "expected full column rank", "got"},
      [](In& in) {
        in.coo.cols = 4;  // column 3 has no entries
        in.refresh_sparse();
        in.solve_x();
        in.dX = testing::random_dense<Scalar>(4, 4, 21);
        in.dx = in.dX.col(0);
      },
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dx); });
  add(
      "backward: A with a duplicate column (rank-deficient)", domain,
      {"argument 'A'", "expected full column rank", "got"},
      [](In& in) {
        // Column 3 is a copy of column 0.
        const Eigen::Index nnz = in.coo.values.size();
        in.coo.cols = 4;
        in.coo.row.conservativeResize(nnz + 4), in.coo.col.conservativeResize(nnz + 4);
        in.coo.values.conservativeResize(nnz + 4);
        for (int e = 0; e < 4; ++e) {
          in.coo.row[nnz + e] = in.coo.row[e];
          in.coo.col[nnz + e] = 3;
          in.coo.values[nnz + e] = in.coo.values[e];
        }
        in.refresh_sparse();
        in.solve_x();
        in.dX = testing::random_dense<Scalar>(4, 4, 22);
      },
      [](const In& in) { lstsq_backward(in.csr, in.B, in.X, in.dX); });
  add(
      "backward: empty A (nnz = 0) with dX != 0", domain,
      {"argument 'A'", "expected full column rank"},
      [](In& in) {
        in.coo.row.resize(0), in.coo.col.resize(0), in.coo.values.resize(0);
        in.refresh_sparse();
        in.solve_x();
      },
      [](const In& in) { lstsq_backward(in.coo, in.b, in.x, in.dx); });

  add(
      "backward: finite inputs whose gradient overflows (found by fuzzing)", domain,
      {"lstsq_backward", "argument 'B, X and dX'", "expected a gradient representable",
       "got dL/dA = "},
      [](In& in) {
        // X near the top of Scalar's range and a large dX: dB·Xᵀ overflows.
        in.b *= std::numeric_limits<Scalar>::max() / Scalar(100) / in.b.cwiseAbs().maxCoeff();
        in.B.col(0) = in.b;
        in.solve_x();
        in.dx *= Scalar(1e4) / in.dx.cwiseAbs().maxCoeff();
      },
      [](const In& in) {
        REQUIRE(in.x.allFinite());
        lstsq_backward(in.coo, in.b, in.x, in.dx, ReturnsShape<Scalar>{},
                       DenseTransposeSolver<Scalar>{});
      });

  // -- solver functors that misbehave
  // ---------------------------------------------------------------
  add("solver throws std::runtime_error: wrapped, message kept", solver,
      {"lstsq", "the solver threw", "factorization failed: out of memory (from the user's solver)"},
      nullptr, [](const In& in) { lstsq(in.coo, in.b, ThrowsRuntime{}); });
  add("solver throws std::logic_error: wrapped", solver,
      {"the solver threw", "solver misconfigured"}, nullptr,
      [](const In& in) { lstsq(in.csr, in.B, ThrowsLogic{}); });
  add("solver throws convergence_error: passes through", Kind::convergence_error,
      {"my solver gave up after 3 iterations"}, nullptr,
      [](const In& in) { lstsq(in.coo, in.b, ThrowsConvergence{}); });
  add("solver throws solver_error: passes through", solver, {"custom solver_error from the user"},
      nullptr, [](const In& in) { lstsq(in.coo, in.B, ThrowsSolverError{}); });
  add("solver returns too many rows", solver, {"the solver returned a 4x1 matrix", "expected 3x1"},
      nullptr, [](const In& in) {
        lstsq(in.coo, in.b, ReturnsShape<Scalar>{1, 0});
      });
  add("solver returns the wrong k", solver, {"the solver returned a 3x5 matrix", "expected 3x4"},
      nullptr, [](const In& in) {
        lstsq(in.csr, in.B, ReturnsShape<Scalar>{0, 1});
      });
  add("solver returns a vector for a matrix", solver,
      {"the solver returned a 3x1 matrix", "expected 3x4"}, nullptr,
      [](const In& in) { lstsq(in.coo, in.B, ReturnsVector<Scalar>{}); });
  add("solver returns NaN", solver, {"the solver returned nan at (0, 0)", "expected finite values"},
      nullptr, [=](const In& in) {
        lstsq(in.coo, in.b, ReturnsShape<Scalar>{0, 0, nan});
      });
  add("solver returns -Inf", solver,
      {"the solver returned -inf at (0, 0)", "expected finite values"}, nullptr, [=](const In& in) {
        lstsq(in.csc, in.B, ReturnsShape<Scalar>{0, 0, -inf});
      });
  add("backward: transpose solver throws", solver,
      {"lstsq_backward", "the transpose solver threw", "factorization failed"}, nullptr,
      [](const In& in) {
        lstsq_backward(in.coo, in.b, in.x, in.dx, ReturnsShape<Scalar>{}, ThrowsRuntime{});
      });
  add("backward: transpose solver returns n x k instead of m x k", solver,
      {"the transpose solver returned a 3x4 matrix", "expected 5x4"}, nullptr, [](const In& in) {
        lstsq_backward(in.coo, in.B, in.X, in.dX, ReturnsShape<Scalar>{}, ReturnsShape<Scalar>{});
      });
  add("backward: solver returns NaN", solver, {"lstsq_backward", "the solver returned nan"},
      nullptr, [=](const In& in) {
        lstsq_backward(in.coo, in.b, in.x, in.dx, ReturnsShape<Scalar>{0, 0, nan},
                       DenseTransposeSolver<Scalar>{});
      });
  add("backward: solver returns a vector for a matrix", solver,
      {"the solver returned a 3x1 matrix", "expected 3x4"}, nullptr, [](const In& in) {
        lstsq_backward(in.csr, in.B, in.X, in.dX, ReturnsVector<Scalar>{},
                       DenseTransposeSolver<Scalar>{});
      });
  add("backward: solve_normal returns the wrong shape", solver,
      {"solve_normal returned a 3x5 matrix", "expected 3x4"}, nullptr, [](const In& in) {
        BadNormalSolver<Scalar> s;
        lstsq_backward(in.coo, in.B, in.X, in.dX, s);
      });

  // -- LSMR options out of range
  // -----------------------------------------------------------------------
  auto with_lsmr = [](const In& in) {
    sparsegrad::Lsmr<Scalar> s(in.options);
    lstsq(in.coo, in.B, s);
  };
  add(
      "options.atol negative", invalid,
      {"argument 'options.atol'", "expected a finite value >= 0", "got -1"},
      [](In& in) { in.options.atol = -1; }, with_lsmr);
  add(
      "options.btol negative", invalid,
      {"argument 'options.btol'", "expected a finite value >= 0", "got -0.5"},
      [](In& in) { in.options.btol = Scalar(-0.5); },
      [](const In& in) { lsmr(in.csr, in.b, in.options); });
  add(
      "options.atol NaN", invalid, {"argument 'options.atol'", "got nan"},
      [=](In& in) { in.options.atol = nan; }, with_lsmr);
  add(
      "options.maxiter negative", invalid,
      {"argument 'options.maxiter'", "expected a value >= 0", "got -1"},
      [](In& in) { in.options.maxiter = -1; }, with_lsmr);
  add(
      "options.conlim below 1", invalid,
      {"argument 'options.conlim'", "expected a value >= 1", "got 0.5"},
      [](In& in) { in.options.conlim = Scalar(0.5); },
      [](const In& in) { lsmr(in.coo, in.B, in.options); });
  add(
      "options.conlim NaN", invalid,
      {"argument 'options.conlim'", "expected a value >= 1", "got nan"},
      [=](In& in) { in.options.conlim = nan; }, with_lsmr);
  add(
      "options.damp NaN", invalid,
      {"argument 'options.damp'", "expected a finite value >= 0", "got nan"},
      [=](In& in) { in.options.damp = nan; }, with_lsmr);
  add(
      "options.damp negative", invalid, {"argument 'options.damp'", "got -2"},
      [](In& in) { in.options.damp = -2; }, [](const In& in) { lsmr(in.coo, in.b, in.options); });
  add(
      "options.x0 wrong rows", invalid, {"argument 'options.x0'", "expected 3x4", "got 2x4"},
      [](In& in) { in.options.x0 = M<Scalar>::Zero(2, 4); }, with_lsmr);
  add(
      "options.x0 a vector for a matrix B", invalid,
      {"argument 'options.x0'", "expected 3x4", "got 3x1"},
      [](In& in) { in.options.x0 = M<Scalar>::Zero(3, 1); },
      [](const In& in) { lsmr(in.csc, in.B, in.options); });
  add(
      "options.x0 with NaN", invalid,
      {"argument 'options.x0'", "expected finite values", "got nan"},
      [=](In& in) {
        in.options.x0 = M<Scalar>::Zero(3, 4);
        in.options.x0(1, 2) = nan;
      },
      with_lsmr);
  add(
      "backward: Lsmr with negative atol", invalid, {"argument 'options.atol'", "got -1"},
      [](In& in) { in.options.atol = -1; },
      [](const In& in) {
        sparsegrad::Lsmr<Scalar> s(in.options);
        lstsq_backward(in.coo, in.B, in.X, in.dX, s);
      });
  return cases;
}

}  // namespace

TEMPLATE_TEST_CASE("bad-input catalogue: type, message and untouched inputs", "[errors]", float,
                   double) {
  const auto cases = catalogue<TestType>();
  CHECK(cases.size() >= 40);
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      run_case(c);
    }
  }
}

TEMPLATE_TEST_CASE("the harness notices a changed input", "[errors]", float, double) {
  // The snapshot comparison is what every case relies on: it must see a one-bit change.
  Inputs<TestType> in;
  const Snapshot before = in.snapshot();
  CHECK(in.snapshot() == before);
  in.uncompressed.valuePtr()[0] = std::nextafter(in.uncompressed.valuePtr()[0], TestType(9));
  CHECK_FALSE(in.snapshot() == before);
  Inputs<TestType> other;
  other.options.maxiter = 3;
  CHECK_FALSE(other.snapshot() == before);
  other.options.maxiter.reset();
  CHECK(other.snapshot() == before);
  other.coo.values[7] = -other.coo.values[7];
  CHECK_FALSE(other.snapshot() == before);
}

// ---- valid inputs that look odd -----------------------------------------------------------------

TEMPLATE_TEST_CASE("accepted: zero dimensions give correctly shaped results", "[errors]", float,
                   double) {
  using Scalar = TestType;
  auto empty = [](Eigen::Index rows, Eigen::Index cols) {
    CooMatrix<Scalar> A;
    A.rows = rows, A.cols = cols;
    return A;
  };
  SECTION("0 x 0") {
    const auto A = empty(0, 0);
    const Vec<Scalar> b(0);
    const Vec<Scalar> x = sparsegrad::lstsq(A, b);
    CHECK(x.size() == 0);
    const auto g = sparsegrad::lstsq_backward(A, b, x, Vec<Scalar>(0));
    CHECK(g.A.rows == 0);
    CHECK(g.A.cols == 0);
    CHECK(g.B.size() == 0);
  }
  SECTION("5 x 0: no unknowns") {
    const auto A = empty(5, 0);
    const Vec<Scalar> b = Vec<Scalar>::Ones(5);
    const Vec<Scalar> x = sparsegrad::lstsq(A, b);
    CHECK(x.size() == 0);
    const auto g = sparsegrad::lstsq_backward(A, b, x, Vec<Scalar>(0));
    CHECK(g.A.values.size() == 0);
    REQUIRE(g.B.size() == 5);
    CHECK(g.B.isZero(0));
  }
  SECTION("0 x 3: no equations, the minimum-norm solution is 0") {
    const auto A = empty(0, 3);
    const Vec<Scalar> x = sparsegrad::lstsq(A, Vec<Scalar>(0));
    REQUIRE(x.size() == 3);
    CHECK(x.isZero(0));
  }
  SECTION("CSR 4 x 0 with a 4 x 2 B") {
    const Csr<Scalar> A(4, 0);
    const M<Scalar> X = sparsegrad::lstsq(A, M<Scalar>::Ones(4, 2));
    CHECK(X.rows() == 0);
    CHECK(X.cols() == 2);
  }
}

TEMPLATE_TEST_CASE("accepted: k = 0 right-hand sides", "[errors]", float, double) {
  using Scalar = TestType;
  Inputs<Scalar> in;
  const M<Scalar> B(5, 0), X(3, 0), dX(3, 0);
  const Snapshot before = in.snapshot();
  const M<Scalar> Xc = sparsegrad::lstsq(in.coo, B);
  CHECK(Xc.rows() == 3);
  CHECK(Xc.cols() == 0);
  const M<Scalar> Xs = sparsegrad::lstsq(in.csr, B, ReturnsShape<Scalar>{5, 5});  // never called
  CHECK(Xs.rows() == 3);
  CHECK(Xs.cols() == 0);
  const auto r = sparsegrad::lsmr(in.csc, B);
  CHECK(r.X.rows() == 3);
  CHECK(r.X.cols() == 0);
  CHECK(r.istop.empty());
  const auto g = sparsegrad::lstsq_backward(in.coo, B, X, dX);
  CHECK(g.A.row == in.coo.row);
  CHECK(g.A.col == in.coo.col);
  REQUIRE(g.A.values.size() == in.coo.values.size());
  CHECK(g.A.values.isZero(0));  // no right-hand side: the loss does not depend on A
  CHECK(g.B.rows() == 5);
  CHECK(g.B.cols() == 0);
  const auto gs = sparsegrad::lstsq_backward(in.csr, B, X, dX);
  CHECK(gs.A.nonZeros() == in.csr.nonZeros());
  CHECK(in.snapshot() == before);
}

TEMPLATE_TEST_CASE("accepted: square nonsingular A (m = n) matches the dense inverse", "[errors]",
                   float, double) {
  using Scalar = TestType;
  const Csr<Scalar> A = testing::random_sparse<Scalar>(8, 8, 2, 31);
  const Dense<double> D = testing::dense(A).template cast<double>();
  const Dense<double> B = testing::random_dense<double>(8, 2, 32);
  const Dense<double> dX = testing::random_dense<double>(8, 2, 33);
  sparsegrad::Lsmr<Scalar> solver;
  solver.options.atol = solver.options.btol = std::is_same<Scalar, float>::value ? 1e-7 : 1e-13;
  solver.options.maxiter = 200;
  const M<Scalar> Bs = B.cast<Scalar>(), dXs = dX.cast<Scalar>();
  const M<Scalar> X = sparsegrad::lstsq(A, Bs, solver);
  const auto lu = D.partialPivLu();
  const Dense<double> Xref = lu.solve(B);
  const double tol = std::is_same<Scalar, float>::value ? 1e-4 : 1e-9;
  CHECK(testing::relative_error(X, Xref) < tol);
  const auto g = sparsegrad::lstsq_backward(A, Bs, X, dXs, solver);
  const Dense<double> dBref = D.transpose().partialPivLu().solve(dX);  // A⁻ᵀ dX
  CHECK(testing::relative_error(g.B, dBref) < tol);
  // r = 0 for a square system, so dA = −dB Xᵀ at A's entries.
  const Dense<double> dAref = -dBref * Xref.transpose();
  CHECK((testing::stored_values(g.A) - testing::values_at_pattern(A, dAref)).norm() <
        tol * testing::values_at_pattern(A, dAref).norm());
}

TEMPLATE_TEST_CASE("accepted: an uncompressed CSR matrix gives the compressed result", "[errors]",
                   float, double) {
  using Scalar = TestType;
  const Csr<Scalar> compressed = testing::random_sparse<Scalar>(30, 12, 3, 41);
  // The same matrix built by insert() with spare room in every row: uncompressed, free slots.
  Csr<Scalar> loose(30, 12);
  loose.reserve(Eigen::VectorXi::Constant(30, 9));
  for (Eigen::Index i = 0; i < compressed.outerSize(); ++i)
    for (typename Csr<Scalar>::InnerIterator it(compressed, i); it; ++it)
      loose.insert(it.row(), it.col()) = it.value();
  REQUIRE_FALSE(loose.isCompressed());
  REQUIRE(loose.data().size() > loose.nonZeros());  // there really are free slots
  const SparseBits before = bits(loose);

  const M<Scalar> B = testing::random_dense<Scalar>(30, 3, 42);
  const M<Scalar> dX = testing::random_dense<Scalar>(12, 3, 43);
  const M<Scalar> Xc = sparsegrad::lstsq(compressed, B);
  const M<Scalar> Xu = sparsegrad::lstsq(loose, B);
  CHECK(bits(Xu) == bits(Xc));  // same entries in the same order: the same arithmetic
  const auto gc = sparsegrad::lstsq_backward(compressed, B, Xc, dX);
  const auto gu = sparsegrad::lstsq_backward(loose, B, Xu, dX);
  CHECK(bits(gu.B) == bits(gc.B));
  REQUIRE(gu.A.nonZeros() == gc.A.nonZeros());
  // g.A has the pattern and entry order of the uncompressed input.
  Eigen::Index e = 0;
  for (Eigen::Index i = 0; i < loose.outerSize(); ++i) {
    typename Csr<Scalar>::InnerIterator a(loose, i), g(gu.A, i);
    for (; a; ++a, ++g, ++e) {
      REQUIRE(g);
      CHECK(g.col() == a.col());
      CHECK(g.value() == gc.A.coeff(a.row(), a.col()));
    }
    CHECK_FALSE(g);
  }
  CHECK(e == compressed.nonZeros());
  CHECK(bits(loose) == before);
}

TEMPLATE_TEST_CASE("accepted: empty A and empty columns in the forward solve", "[errors]", float,
                   double) {
  using Scalar = TestType;
  Inputs<Scalar> in;
  SECTION("nnz = 0: X = 0 (the minimum-norm solution), istop 0") {
    in.coo.row.resize(0), in.coo.col.resize(0), in.coo.values.resize(0);
    sparsegrad::Lsmr<Scalar> solver;
    const Vec<Scalar> x = sparsegrad::lstsq(in.coo, in.b, solver);
    REQUIRE(x.size() == 3);
    CHECK(x.isZero(0));
    CHECK(solver.last().istop == std::vector<int>{0});
  }
  SECTION("an empty column: its unknown is 0, the others are the least-squares solution") {
    in.coo.cols = 4;
    const M<Scalar> X = sparsegrad::lstsq(in.coo, in.B);
    REQUIRE(X.rows() == 4);
    CHECK(X.row(3).isZero(0));
    const Dense<double> ref = testing::dense_lstsq(testing::dense(in.coo).template cast<double>(),
                                                   in.B.template cast<double>());
    CHECK(testing::relative_error(X, ref) < (std::is_same<Scalar, float>::value ? 1e-4 : 1e-5));
  }
}

// ---- nothing silent
// --------------------------------------------------------------------------------

/// A tall problem whose columns are scaled over `decades` orders of magnitude (cond ~ 10^decades).
template <class Scalar>
Csr<Scalar> graded(Eigen::Index m, Eigen::Index n, double decades, unsigned seed) {
  Csr<Scalar> A = testing::random_sparse<Scalar>(m, n, 3, seed);
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> s(n);
  for (Eigen::Index j = 0; j < n; ++j)
    s[j] = Scalar(std::pow(10.0, -decades * double(j) / double(n - 1)));
  return A * s.asDiagonal();
}

TEMPLATE_TEST_CASE("non-convergence is thrown by default with per-column diagnostics", "[errors]",
                   float, double) {
  using Scalar = TestType;
  const Csr<Scalar> A = testing::random_sparse<Scalar>(40, 20, 3, 51);
  M<Scalar> B = testing::random_dense<Scalar>(40, 3, 52);
  B.col(1).setZero();  // this column is solved exactly by x = 0, before any iteration

  SECTION("maxiter reached: istop 7") {
    sparsegrad::Lsmr<Scalar> solver;
    solver.options.maxiter = 2;
    try {
      sparsegrad::lstsq(A, B, solver);
      FAIL("no convergence_error");
    } catch (const sparsegrad::convergence_error& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find("2 of 3 right-hand sides failed") != std::string::npos);
      CHECK(what.find("column 0: istop 7") != std::string::npos);
      CHECK(what.find("column 2: istop 7") != std::string::npos);
      CHECK(what.find("maxiter") != std::string::npos);
      const auto& d = e.diagnostics();
      CHECK(d.istop == std::vector<int>{7, 0, 7});
      CHECK(d.itn == std::vector<int>{2, 0, 2});
      for (const auto* field : {&d.normr, &d.normar, &d.norma, &d.conda, &d.normx})
        REQUIRE(field->size() == 3);
      CHECK(d.normr[1] == 0);
      CHECK(d.normx[1] == 0);
      for (int j : {0, 2}) {
        CHECK(std::isfinite(d.normr[j]));
        CHECK(d.normr[j] > 0);
        CHECK(d.normar[j] > 0);
        CHECK(d.norma[j] > 0);
        CHECK(d.conda[j] >= 1);
        CHECK(d.normx[j] > 0);
      }
      // The functor keeps the same diagnostics for a caller who catches and inspects.
      CHECK(solver.last().istop == d.istop);
    }
  }

  SECTION("maxiter reached, throw_on_failure = false: X returned, diagnostics describe it") {
    sparsegrad::Lsmr<Scalar> solver;
    solver.options.maxiter = 2;
    solver.options.throw_on_failure = false;
    const M<Scalar> X = sparsegrad::lstsq(A, B, solver);
    const auto& last = solver.last();
    CHECK(last.istop == std::vector<int>{7, 0, 7});
    CHECK_FALSE(last.converged());
    // The diagnostics are those of the X returned (checked densely, in double).
    const Dense<double> D = testing::dense(A).template cast<double>();
    const Dense<double> R = B.template cast<double>() - D * X.template cast<double>();
    const double tol = std::is_same<Scalar, float>::value ? 1e-3 : 1e-8;
    for (int j : {0, 2}) {
      CHECK(double(last.normx[j]) == Approx(X.col(j).template cast<double>().norm()).epsilon(tol));
      CHECK(double(last.normr[j]) == Approx(R.col(j).norm()).epsilon(tol));
      CHECK(double(last.normar[j]) == Approx((D.transpose() * R.col(j)).norm()).epsilon(tol));
    }
  }

  SECTION("condition limit exceeded: istop 3") {
    const Csr<Scalar> G = graded<Scalar>(60, 20, 3, 53);
    sparsegrad::Lsmr<Scalar> solver;
    solver.options.conlim = 10;
    CHECK_THROWS_AS(sparsegrad::lstsq(G, B.topRows(0).eval().col(0).eval(), solver),
                    std::invalid_argument);  // (B of the wrong size is still an argument error)
    const M<Scalar> BG = testing::random_dense<Scalar>(60, 2, 54);
    try {
      sparsegrad::lstsq(G, BG, solver);
      FAIL("no convergence_error");
    } catch (const sparsegrad::convergence_error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find("istop 3") != std::string::npos);
      const auto& d = e.diagnostics();
      CHECK(d.istop == std::vector<int>{3, 3});
      for (double c : d.conda) CHECK(c >= 10);
    }
    // The free function reports the same and never throws for numerical outcomes.
    const auto r = sparsegrad::lsmr(G, BG, solver.options);
    CHECK(r.istop == std::vector<int>{3, 3});
  }

  SECTION("the backward pass throws when its own solves do not converge") {
    sparsegrad::Lsmr<Scalar> solver;
    const M<Scalar> X = sparsegrad::lstsq(A, B, solver);
    solver.options.maxiter = 1;
    const M<Scalar> dX = testing::random_dense<Scalar>(20, 3, 55);
    CHECK_THROWS_AS(sparsegrad::lstsq_backward(A, B, X, dX, solver), sparsegrad::convergence_error);
  }
}

TEST_CASE("a functor's convergence_error passes through with its diagnostics", "[errors]") {
  Inputs<double> in;
  try {
    sparsegrad::lstsq(in.coo, in.b, ThrowsConvergence{});
    FAIL("no exception");
  } catch (const sparsegrad::convergence_error& e) {
    CHECK(std::string(e.what()) == "my solver gave up after 3 iterations");
    CHECK(e.diagnostics().istop == std::vector<int>{7});
    CHECK(e.diagnostics().itn == std::vector<int>{3});
    CHECK(e.diagnostics().normr == std::vector<double>{1.5});
  }
}

namespace {
/// Deterministic random vectors for the real matrices.
Eigen::VectorXd random_vector(Eigen::Index n, unsigned seed) {
  return testing::random_dense<double>(n, 1, seed).col(0);
}
}  // namespace

TEST_CASE("rank-deficient real matrices converge forward but the backward pass refuses them",
          "[errors][real]") {
  // abb313 (rank 128 of 176) and Franz6 (rank 2327 of 3016): LSMR reaches istop 2, a solution
  // of the least-squares problem, but dL/dA does not exist there: a random dX must throw.
  for (const char* name : {"abb313.mtx", "Franz6.mtx"}) {
    INFO(name);
    const auto A = testing::load_matrix<double>(name);
    const Eigen::VectorXd b = random_vector(A.rows(), 61);
    sparsegrad::Lsmr<double> solver;
    const Eigen::VectorXd x = sparsegrad::lstsq(A, b, solver);  // default options: no throw
    CHECK(solver.last().istop == std::vector<int>{2});
    const Eigen::VectorXd dx = random_vector(A.cols(), 62);
    try {
      sparsegrad::lstsq_backward(A, b, x, dx);
      FAIL("no std::domain_error");
    } catch (const std::domain_error& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find("argument 'A'") != std::string::npos);
      CHECK(what.find("rank-deficient") != std::string::npos);
    }
  }
  // The check is not trigger-happy: full-rank matrices pass at default options.
  for (const char* name : {"ash219.mtx", "lp_afiro_T.mtx", "well1033.mtx"}) {
    INFO(name);
    const auto A = testing::load_matrix<double>(name);
    const Eigen::VectorXd b = random_vector(A.rows(), 63);
    const Eigen::VectorXd x = sparsegrad::lstsq(A, b);
    CHECK_NOTHROW(sparsegrad::lstsq_backward(A, b, x, random_vector(A.cols(), 64)));
  }
}

TEST_CASE("istop 1/2 bound a backward error, not the forward error", "[errors][real]") {
  // lp_e226_T (cond 9.1e3) at default options: LSMR stops with istop 2, and what istop 2
  // promises holds (‖Aᵀr‖ ≤ atol‖A‖‖r‖), yet x is far from the least-squares solution.
  const auto A = testing::load_matrix<double>("lp_e226_T.mtx");
  const Eigen::VectorXd b = random_vector(A.rows(), 1);
  const Eigen::MatrixXd D = A.toDense();
  const Eigen::VectorXd xref = D.colPivHouseholderQr().solve(b);
  sparsegrad::Lsmr<double> solver;
  solver.options.throw_on_failure = false;
  const Eigen::VectorXd x = sparsegrad::lstsq(A, b, solver);
  const int istop = solver.last().istop[0];
  const Eigen::VectorXd r = b - D * x;
  const double backward = (D.transpose() * r).norm() / (D.norm() * r.norm());
  const double forward = testing::relative_error(x, xref);

  sparsegrad::Lsmr<double> tight(testing::tight_options<sparsegrad::LsmrOptions<double>>(20000));
  tight.options.throw_on_failure = false;
  const Eigen::VectorXd xt = sparsegrad::lstsq(A, b, tight);
  const double forward_tight = testing::relative_error(xt, xref);
  std::cout << "lp_e226_T, random b: default options istop " << istop << " itn "
            << solver.last().itn[0] << " |A^T r|/(|A||r|) " << backward
            << " forward error vs dense QR " << forward << "; tight options istop "
            << tight.last().istop[0] << " itn " << tight.last().itn[0] << " forward error "
            << forward_tight << "\n";
  CHECK((istop == 2 || istop == 7));
  const auto& last = solver.last();
  std::cout << "  LSMR's own estimate normar/(norma normr) "
            << last.normar[0] / (last.norma[0] * last.normr[0])
            << " (estimates drift from the true value once orthogonality is lost)\n";
  if (istop == 2) {
    CHECK(last.normar[0] <= 1e-6 * last.norma[0] * last.normr[0]);  // the stopping test itself
    CHECK(backward <= 1e-5);  // and the true backward error is of that order
  }
  CHECK(forward > 1e-3);        // "converged", and still wrong in the third digit
  CHECK(forward_tight < 1e-6);  // the defaults, not the method, bought that error
  CHECK(forward_tight < forward / 100);
}

TEST_CASE("non-convergence on a real matrix: thrown by default, returned on request",
          "[errors][real]") {
  // illc1033 with its own right-hand side stops at maxiter = n = 320 (istop 7) at default options.
  const auto A = testing::load_matrix<double>("illc1033.mtx");
  const Eigen::VectorXd b =
      sparsegrad::read_dense_matrix_market_file<double>(testing::data_path("illc1033_rhs1.mtx"))
          .col(0);
  try {
    sparsegrad::lstsq(A, b);
    FAIL("no convergence_error");
  } catch (const sparsegrad::convergence_error& e) {
    CHECK(e.diagnostics().istop == std::vector<int>{7});
    CHECK(e.diagnostics().itn == std::vector<int>{320});
  }
  sparsegrad::Lsmr<double> solver;
  solver.options.throw_on_failure = false;
  const Eigen::VectorXd x = sparsegrad::lstsq(A, b, solver);
  CHECK(x.size() == 320);
  CHECK(solver.last().istop == std::vector<int>{7});
  CHECK_FALSE(solver.last().converged());
}

TEST_CASE("Matrix Market: untrusted sizes and out-of-range values are argument errors",
          "[errors][io]") {
  auto dense = [](const std::string& text) {
    std::istringstream in(text);
    return sparsegrad::read_dense_matrix_market<double>(in);
  };
  // Regression: a header promising 2^40 values once allocated them all up front
  // (std::bad_alloc), and a 0 x 2^62 header looped over the columns for ever.
  CHECK_THROWS_WITH(dense("%%MatrixMarket matrix array real general\n1048576 1048576\n1\n2\n"),
                    Catch::Contains("end of file after 2"));
  CHECK_THROWS_AS(dense("%%MatrixMarket matrix array real general\n0 4611686018427387904\n"),
                  std::invalid_argument);
  CHECK(dense("%%MatrixMarket matrix array real general\n0 3\n").cols() == 3);
  CHECK(dense("%%MatrixMarket matrix array real general\n2 1\n1.5\n-2\n") ==
        Eigen::Vector2d(1.5, -2));
  // A value beyond float's range read as float is an error, not an (undefined) conversion.
  std::istringstream big("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2 1e300\n");
  CHECK_THROWS_WITH(sparsegrad::read_matrix_market<float>(big),
                    Catch::Contains("expected a value within the range of the scalar type"));
  std::istringstream fine("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2 1e300\n");
  CHECK(sparsegrad::read_matrix_market<double>(fine).values[0] == 1e300);
  // Found by fuzz_matrix_market: a symmetric 3 x 4 file mirrored (1, 4) to row index 3 of 3.
  std::istringstream wide_symmetric(
      "%%MatrixMarket matrix coordinate real symmetric\n3 4 1\n1 4 2.5\n");
  CHECK_THROWS_WITH(sparsegrad::read_matrix_market<double>(wide_symmetric),
                    Catch::Contains("expected a square matrix for symmetry 'symmetric'") &&
                        Catch::Contains("got 3x4"));
}
