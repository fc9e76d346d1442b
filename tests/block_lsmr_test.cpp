// Block LSMR (k right-hand sides iterated together) against k separate runs; the parallel
// sparse kernels of operator.hpp against sums in their documented order and across thread
// counts; no allocation inside the iteration loops.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <new>
#include <set>
#include <sparsegrad/solvers/lsmr.hpp>

#include "test_support.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace testing;

// Counts every allocation made through operator new while `counting` is set. Not under
// AddressSanitizer, whose own operator new would pair with this free (the Release suite runs it).
#if defined(__SANITIZE_ADDRESS__)
#define SPARSEGRAD_COUNT_ALLOCATIONS 0
#else
#define SPARSEGRAD_COUNT_ALLOCATIONS 1
#endif

#if SPARSEGRAD_COUNT_ALLOCATIONS
namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
// Not inlined: GCC 12 would see free() against a call of the replaced operator new and warn
// (-Wmismatched-new-delete), a false positive for a replaced pair.
#if defined(__GNUC__)
#define SPARSEGRAD_NOINLINE __attribute__((noinline))
#else
#define SPARSEGRAD_NOINLINE
#endif
SPARSEGRAD_NOINLINE void operator delete(void* p) noexcept {
  std::free(p);
}
SPARSEGRAD_NOINLINE void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {
template <class F>
long allocations_during(F&& f) {
  allocations = 0;
  counting = true;
  f();
  counting = false;
  return allocations;
}
}  // namespace
#endif

namespace {

/// Checks that column j of a block run equals a separate run on column j.
template <class AType, class Scalar>
void check_block_equals_columns(const AType& A, const Dense<Scalar>& B,
                                const sparsegrad::LsmrOptions<Scalar>& opt) {
  const auto block = sparsegrad::lsmr(A, B, opt);
  REQUIRE(block.X.cols() == B.cols());
  for (Eigen::Index j = 0; j < B.cols(); ++j) {
    CAPTURE(j);
    const Dense<Scalar> bj = B.col(j);
    const auto single = sparsegrad::lsmr(A, bj, opt);
    const auto sj = std::size_t(j);
    CHECK(block.istop[sj] == single.istop[0]);
    CHECK(block.itn[sj] == single.itn[0]);
    CHECK(relative_error(block.X.col(j), single.X) <= 1e-12);
    CHECK(block.normr[sj] == Approx(single.normr[0]).epsilon(1e-12).margin(1e-300));
    CHECK(block.normar[sj] == Approx(single.normar[0]).epsilon(1e-12).margin(1e-300));
    CHECK(block.conda[sj] == Approx(single.conda[0]).epsilon(1e-12));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("block LSMR equals column-by-column runs for k = 1, 3, 8", "[block][lsmr]",
                   float, double) {
  using Scalar = TestType;
  const auto A = random_sparse<Scalar>(200, 60, 4, 101);
  sparsegrad::LsmrOptions<Scalar> opt;
  for (Eigen::Index k : {1, 3, 8}) {
    CAPTURE(k);
    check_block_equals_columns(A, random_dense<Scalar>(200, k, unsigned(102 + k)), opt);
  }
}

TEST_CASE("block LSMR with mixed columns: zero, in range(A), hard, damped", "[block][lsmr]") {
  // illc1033 (cond 1.9e4) with its own right-hand side needs many iterations; A·1 is in the
  // range (compatible, istop 1); a zero column stops at once (istop 0); a random column.
  const auto A = load_matrix<double>("illc1033.mtx");
  Dense<double> B(A.rows(), 5);
  B.col(0) = sparsegrad::read_dense_matrix_market_file<double>(data_path("illc1033_rhs1.mtx"));
  B.col(1).setZero();
  B.col(2) = A * Eigen::VectorXd::Ones(A.cols());
  B.col(3) = random_dense<double>(A.rows(), 1, 111);
  B.col(4) = 1e-3 * B.col(2);
  // scipy's stopping tests alone, so that loose tolerances stop the easy columns early
  auto opt = sparsegrad::LsmrOptions<double>::scipy();
  opt.atol = opt.btol = 1e-4;
  opt.maxiter = 120;  // the hard column fails (istop 7) while the others converge
  check_block_equals_columns(A, B, opt);
  const auto r = sparsegrad::lsmr(A, B, opt);
  CHECK(r.istop[1] == 0);
  CHECK(r.itn[1] == 0);
  CHECK(r.istop[0] == 7);
  CHECK(r.istop[2] == 1);
  CHECK(r.itn[2] < r.itn[0]);
  std::set<int> stops(r.istop.begin(), r.istop.end());
  CHECK(stops.size() >= 4);  // really mixed: 0, 1, 2 and 7

  // Damped and tight, on a CSC copy (the other kernel paths).
  const Csc<double> csc = A;
  opt.damp = 0.01;
  opt.atol = opt.btol = 1e-10;
  opt.maxiter.reset();
  check_block_equals_columns(csc, B, opt);
}

TEST_CASE("block LSMR with a warm start equals column-by-column runs", "[block][lsmr]") {
  const auto A = load_matrix<double>("well1033.mtx");
  const Dense<double> B = random_dense<double>(A.rows(), 3, 121);
  sparsegrad::LsmrOptions<double> opt;
  opt.x0 = random_dense<double>(A.cols(), 3, 122);
  const auto block = sparsegrad::lsmr(A, B, opt);
  for (Eigen::Index j = 0; j < 3; ++j) {
    auto single_opt = opt;
    single_opt.x0 = opt.x0.col(j);
    const auto single = sparsegrad::lsmr(A, Dense<double>(B.col(j)), single_opt);
    CHECK(block.itn[std::size_t(j)] == single.itn[0]);
    CHECK(block.istop[std::size_t(j)] == single.istop[0]);
    CHECK(relative_error(block.X.col(j), single.X) <= 1e-12);
  }
}

/// M·V with each output entry summed from 0 over row i of M in increasing column order, one
/// term at a time in Scalar: scipy's csr_matvec order, the one operator.hpp documents for every
/// product (M = A or Aᵀ as a sorted CSR). Eigen 3.4's sparse x dense product sums the same
/// way; Eigen 5's splits each row into two accumulators, so it is no bitwise reference.
template <class Scalar>
Dense<Scalar> ordered_product(const Csr<Scalar>& M, const Dense<Scalar>& V) {
  Dense<Scalar> Y(M.rows(), V.cols());
  for (Eigen::Index c = 0; c < V.cols(); ++c)
    for (Eigen::Index i = 0; i < M.rows(); ++i) {
      Scalar sum(0);
      for (typename Csr<Scalar>::InnerIterator it(M, i); it; ++it)
        sum += it.value() * V(it.col(), c);
      Y(i, c) = sum;
    }
  return Y;
}

TEMPLATE_TEST_CASE("sparse kernels: same bits as sums in storage order, any k, any thread count",
                   "[operator][kernels]", float, double) {
  using Scalar = TestType;
  const auto csr = random_sparse<Scalar>(300, 120, 5, 131);
  const Csc<Scalar> csc = csr;
  Csc<Scalar> uncompressed = csc;
  uncompressed.uncompress();
  const auto coo = sparsegrad::to_coo(csr);
  const Csr<Scalar> csr_of_transpose = csr.transpose();  // rows of Aᵀ, sorted
  auto check = [&](const auto& op) {
    for (Eigen::Index k : {1, 2, 8, 11}) {
      CAPTURE(k);
      const Dense<Scalar> V = random_dense<Scalar>(120, k, unsigned(132 + k));
      const Dense<Scalar> U = random_dense<Scalar>(300, k, unsigned(133 + k));
      const Dense<Scalar> AV = ordered_product(csr, V), AtU = ordered_product(csr_of_transpose, U);
      Dense<Scalar> Y(300, k + 1), Z(120, k);
      op.apply(V, Y.leftCols(k));
      op.apply_adjoint(U, Z);
      CHECK((Y.leftCols(k).array() == AV.array()).all());
      CHECK((Z.array() == AtU.array()).all());
      for (Eigen::Index c = 0; c < k; ++c) {  // a column alone gives the same bits
        Eigen::Matrix<Scalar, Eigen::Dynamic, 1> y(300);
        op.apply(V.col(c), y);
        CHECK((y.array() == AV.col(c).array()).all());
      }
    }
  };
  for (auto how : {sparsegrad::TransposedProduct::copy, sparsegrad::TransposedProduct::scatter,
                   sparsegrad::TransposedProduct::automatic}) {
    check(sparsegrad::make_operator(csr, how));
    check(sparsegrad::make_operator(csc, how));
    check(sparsegrad::make_operator(uncompressed, how));
    check(sparsegrad::make_operator(coo, how));
  }
  CHECK(sparsegrad::make_operator(csr, sparsegrad::TransposedProduct::copy).has_transposed_copy());
  CHECK_FALSE(
      sparsegrad::make_operator(csr, sparsegrad::TransposedProduct::scatter).has_transposed_copy());

#ifdef _OPENMP
  // Large enough to start threads (nnz x k above the threshold): 1 and 2 threads, same bits.
  const auto big = random_sparse<Scalar>(4000, 1500, 12, 141);
  const Dense<Scalar> V = random_dense<Scalar>(1500, 8, 142);
  const int saved = omp_get_max_threads();
  Dense<Scalar> Y1(4000, 8), Y2(4000, 8), Z1(1500, 8), Z2(1500, 8);
  omp_set_num_threads(1);
  {
    const auto op = sparsegrad::make_operator(big, sparsegrad::TransposedProduct::copy);
    op.apply(V, Y1);
    op.apply_adjoint(Y1, Z1);
  }
  omp_set_num_threads(2);
  {
    const auto op = sparsegrad::make_operator(big, sparsegrad::TransposedProduct::copy);
    op.apply(V, Y2);
    op.apply_adjoint(Y2, Z2);
  }
  omp_set_num_threads(saved);
  CHECK((Y1.array() == Y2.array()).all());
  CHECK((Z1.array() == Z2.array()).all());
#endif
}

/// Σ_j |a_ij| |u_jc| of Aᵀ|U| and the exact-to-long-double product AᵀU, column by column over
/// the rows of M = Aᵀ (a sorted CSR).
template <class Scalar>
std::pair<Dense<long double>, Dense<long double>> reference_product(const Csr<Scalar>& M,
                                                                    const Dense<Scalar>& U) {
  Dense<long double> Y(M.rows(), U.cols()), absY(M.rows(), U.cols());
  for (Eigen::Index c = 0; c < U.cols(); ++c)
    for (Eigen::Index i = 0; i < M.rows(); ++i) {
      long double sum = 0, abs_sum = 0;
      for (typename Csr<Scalar>::InnerIterator it(M, i); it; ++it) {
        const long double term = (long double)it.value() * (long double)U(it.col(), c);
        sum += term, abs_sum += std::abs(term);
      }
      Y(i, c) = sum, absY(i, c) = abs_sum;
    }
  return {Y, absY};
}

TEMPLATE_TEST_CASE(
    "chunked scatter (Aᵀ·U of a tall CSR A by default): within the summation "
    "error bound, the same bits on any thread count and per column",
    "[operator][kernels]", float, double) {
  using Scalar = TestType;
  using sparsegrad::TransposedProduct;
  // 600 entries per column: nnz / (8 n) = 75, so A's rows are cut into the maximum of 16 chunks;
  // nnz = 240400 is above the kernels' threading threshold already at k = 1.
  const auto csr = random_sparse<Scalar>(20000, 400, 600, 161);
  const Csr<Scalar> csr_of_transpose = csr.transpose();
  const auto op = sparsegrad::make_operator(csr);
  REQUIRE(op.transposed_product() == TransposedProduct::chunked);
  const auto coo_op = sparsegrad::make_operator(sparsegrad::to_coo(csr));
  CHECK(coo_op.transposed_product() == TransposedProduct::chunked);
  // scipy_compatible keeps scipy's order; a wide CSR A (Aᵀ·U into the long side) is not chunked.
  CHECK(
      sparsegrad::make_operator(csr, sparsegrad::LsmrOptions<Scalar>::scipy().transposed_product())
          .transposed_product() == TransposedProduct::scatter);
  const Csr<Scalar> wide = csr_of_transpose;
  CHECK(sparsegrad::make_operator(wide).transposed_product() != TransposedProduct::chunked);

  // Any order of summing N products has |computed − exact| ≤ γ_N Σ|terms| with
  // γ_N = N u / (1 − N u) (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
  // §3.1 and §4.2); N = the largest column count of A. The reference is summed in long double
  // (u = 2⁻⁶⁴ on x86-64), whose own error is 2¹¹ times below double's bound.
  Eigen::Index N = 0;
  for (Eigen::Index i = 0; i < csr_of_transpose.outerSize(); ++i)
    N = std::max<Eigen::Index>(
        N, csr_of_transpose.outerIndexPtr()[i + 1] - csr_of_transpose.outerIndexPtr()[i]);
  const long double u = std::numeric_limits<Scalar>::epsilon() / 2;
  const long double gamma = N * u / (1 - N * u);
  for (Eigen::Index k : {1, 3, 8, 11}) {
    CAPTURE(k);
    const Dense<Scalar> U = random_dense<Scalar>(20000, k, unsigned(162 + k));
    Dense<Scalar> Z(400, k);
    op.apply_adjoint(U, Z);
    const auto [exact, bound] = reference_product(csr_of_transpose, U);
    const Dense<long double> error = (Z.template cast<long double>() - exact).cwiseAbs();
    CHECK((error.array() <= gamma * bound.array()).all());
    for (Eigen::Index c = 0; c < k; ++c) {  // a column alone gives the same bits
      Eigen::Matrix<Scalar, Eigen::Dynamic, 1> z(400);
      op.apply_adjoint(U.col(c), z);
      CHECK((z.array() == Z.col(c).array()).all());
    }
#ifdef _OPENMP
    const int saved = omp_get_max_threads();
    Dense<Scalar> Z1(400, k), Z2(400, k);
    omp_set_num_threads(1);
    op.apply_adjoint(U, Z1);
    omp_set_num_threads(2);
    op.apply_adjoint(U, Z2);
    omp_set_num_threads(saved);
    CHECK((Z1.array() == Z2.array()).all());
    CHECK((Z1.array() == Z.array()).all());
#endif
  }
}

#ifdef _OPENMP
TEST_CASE("LSMR with the default kernels gives the same bits on 1 and 2 threads",
          "[block][lsmr][kernels]") {
  const auto A = random_sparse<double>(20000, 400, 600, 171);
  const Dense<double> B = random_dense<double>(20000, 3, 172);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = sparsegrad::lsmr(A, B);
  omp_set_num_threads(2);
  const auto two = sparsegrad::lsmr(A, B);
  omp_set_num_threads(saved);
  CHECK(one.itn == two.itn);
  CHECK((one.X.array() == two.X.array()).all());
}
#endif

#if SPARSEGRAD_COUNT_ALLOCATIONS
TEST_CASE("no allocation inside the LSMR and CRAIG iteration loops", "[block][allocation]") {
  const auto A = load_matrix<double>("illc1033.mtx");  // needs hundreds of iterations
  const Dense<double> B = random_dense<double>(A.rows(), 3, 151);
  const Dense<double> G = random_dense<double>(A.cols(), 3, 152);
  auto count = [&](long iterations, bool normal) {
    sparsegrad::LsmrOptions<double> opt;
    opt.maxiter = iterations;
    opt.throw_on_failure = false;
    sparsegrad::Lsmr<double> solver(opt);
    const auto op = sparsegrad::make_operator(A);
    sparsegrad::LsmrResult<double> result;
    const long n = allocations_during([&] {
      if (normal) {
        solver.solve_normal(A, G);
      } else {
        result = sparsegrad::lsmr(op, B, opt);
      }
    });
    for (int s : normal ? solver.last_backward().istop : result.istop) CHECK(s == 7);
    return n;
  };
  // Same number of allocations for 5 and 60 iterations: none per iteration.
  CHECK(count(5, false) == count(60, false));
  CHECK(count(5, true) == count(60, true));
  CHECK(count(5, true) > 0);  // the counter works
}
#endif
