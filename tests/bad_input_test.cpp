// The bad-input catalogue: every row of the design's error table, each case asserting the
// exception type, that the message names the argument with the expected and the got values, and
// that every input is bit-for-bit unchanged afterwards.
#include <catch2/catch.hpp>
#include <functional>
#include <limits>
#include <sparsegrad/sparsegrad.hpp>
#include <string>
#include <typeinfo>
#include <vector>

#include "input_snapshot.hpp"
#include "misbehaving_solvers.hpp"
#include "test_support.hpp"

using namespace testing;
using sparsegrad::CooMatrix;

namespace {

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
      "backward: A with a column whose stored entries are all zero (rank-deficient)", domain,
      {"argument 'A'", "expected full column rank", "got column 3"},
      [](In& in) {
        // Column 3 stores explicit zeros: the gradient at those entries does not exist. (A column
        // with no stored entry decouples and is accepted: see accepted_inputs_test.cpp.)
        const Eigen::Index nnz = in.coo.values.size();
        in.coo.cols = 4;
        in.coo.row.conservativeResize(nnz + 2), in.coo.col.conservativeResize(nnz + 2);
        in.coo.values.conservativeResize(nnz + 2);
        in.coo.row[nnz] = 0, in.coo.row[nnz + 1] = 2;
        in.coo.col[nnz] = in.coo.col[nnz + 1] = 3;
        in.coo.values[nnz] = in.coo.values[nnz + 1] = 0;
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
