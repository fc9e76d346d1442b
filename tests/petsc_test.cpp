// Tests of include/sparsegrad/petsc.hpp, run by ctest under mpirun -n 1, 2 and 3.
//
// Every rank builds the same problem and the same serial references (the serial library, dense
// QR, finite differences); the distributed results are compared on each rank's own part and the
// errors reduced over all ranks, so that every rank asserts on the same numbers (a failing
// REQUIRE on one rank only would leave the others waiting in a collective call).
#include <petscksp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sparsegrad/backends/petsc.hpp>
#include <sparsegrad/lstsq.hpp>
#include <utility>

#include "test_support.hpp"

namespace sp = sparsegrad::petsc;
using testing::Csr;
using testing::Dense;

namespace {

MPI_Comm comm() {
  return PETSC_COMM_WORLD;
}

int rank() {
  int r = 0;
  MPI_Comm_rank(comm(), &r);
  return r;
}

int ranks() {
  int s = 1;
  MPI_Comm_size(comm(), &s);
  return s;
}

double global_max(double local) {
  double out = 0;
  MPI_Allreduce(&local, &out, 1, MPI_DOUBLE, MPI_MAX, comm());
  return out;
}

double global_sum(double local) {
  double out = 0;
  MPI_Allreduce(&local, &out, 1, MPI_DOUBLE, MPI_SUM, comm());
  return out;
}

void ok(PetscErrorCode code) {
  REQUIRE(code == 0);
}

/// A distributed vector with A's row (range) or column (domain) layout, holding column c of the
/// global dense matrix M on each rank's own entries.
sp::Vector to_vec(Mat A, const Dense<double>& M, Eigen::Index c, bool domain) {
  sp::Vector v;
  ok(domain ? MatCreateVecs(A, v.out(), nullptr) : MatCreateVecs(A, nullptr, v.out()));
  PetscInt lo = 0, hi = 0;
  ok(VecGetOwnershipRange(v, &lo, &hi));
  PetscScalar* a = nullptr;
  ok(VecGetArray(v, &a));
  for (PetscInt i = lo; i < hi; ++i) a[i - lo] = M(i, c);
  ok(VecRestoreArray(v, &a));
  return v;
}

sp::VecBlock to_block(Mat A, const Dense<double>& M, bool domain) {
  std::vector<sp::Vector> owned;
  std::vector<Vec> raw;
  for (Eigen::Index c = 0; c < M.cols(); ++c) {
    owned.push_back(to_vec(A, M, c, domain));
    raw.push_back(owned.back());
  }
  return sp::VecBlock::referencing(raw);
}

/// max over ranks of ‖v_own − ref_own‖∞ / ‖ref‖∞ for column c.
double relative_error(Vec v, const Dense<double>& ref, Eigen::Index c) {
  PetscInt lo = 0, hi = 0;
  REQUIRE(VecGetOwnershipRange(v, &lo, &hi) == 0);
  const PetscScalar* a = nullptr;
  REQUIRE(VecGetArrayRead(v, &a) == 0);
  double diff = 0;
  for (PetscInt i = lo; i < hi; ++i) diff = std::max(diff, std::abs(a[i - lo] - ref(i, c)));
  REQUIRE(VecRestoreArrayRead(v, &a) == 0);
  return global_max(diff) / ref.col(c).lpNorm<Eigen::Infinity>();
}

double relative_error(const sp::VecBlock& V, const Dense<double>& ref) {
  REQUIRE(V.size() == ref.cols());
  double worst = 0;
  for (Eigen::Index c = 0; c < V.size(); ++c) worst = std::max(worst, relative_error(V[c], ref, c));
  return worst;
}

/// max over the stored entries of the distributed gradient G of |G_ij − ref_ij| / max|ref|; also
/// checks that G has exactly the pattern of `pattern` on this rank's rows.
double relative_error(Mat G, const Csr<double>& ref) {
  PetscInt lo = 0, hi = 0;
  REQUIRE(MatGetOwnershipRange(G, &lo, &hi) == 0);
  double diff = 0, scale = 0, pattern_mismatch = 0;
  for (PetscInt i = lo; i < hi; ++i) {
    PetscInt ncols = 0;
    const PetscInt* cols = nullptr;
    const PetscScalar* vals = nullptr;
    REQUIRE(MatGetRow(G, i, &ncols, &cols, &vals) == 0);
    Csr<double>::InnerIterator it(ref, i);
    for (PetscInt e = 0; e < ncols; ++e, ++it) {
      if (!it || it.col() != cols[e]) {
        pattern_mismatch = 1;
        break;
      }
      diff = std::max(diff, std::abs(vals[e] - it.value()));
      scale = std::max(scale, std::abs(it.value()));
    }
    if (it) pattern_mismatch = 1;
    REQUIRE(MatRestoreRow(G, i, &ncols, &cols, &vals) == 0);
  }
  REQUIRE(global_max(pattern_mismatch) == 0);
  return global_max(diff) / global_max(scale);
}

sparsegrad::LsmrOptions<double> tight() {
  auto opt = testing::tight_options<sparsegrad::LsmrOptions<double>>(20000);
  // The distributed backend runs on A itself (no column scaling): so does the serial reference,
  // so that both follow the same iterations.
  opt.column_scaling = false;
  return opt;
}

/// A's pattern holding the values of the dense M at its entries.
Csr<double> on_pattern(const Csr<double>& A, const Dense<double>& M) {
  Csr<double> out = A;
  for (Eigen::Index i = 0; i < out.outerSize(); ++i)
    for (Csr<double>::InnerIterator it(out, i); it; ++it) it.valueRef() = M(it.row(), it.col());
  return out;
}

/// The serial library's X and gradients with tight LSMR: the reference of a distributed run.
auto serial_reference(const Csr<double>& A, const Dense<double>& B, const Dense<double>& dX) {
  sparsegrad::Lsmr<double> serial(tight());
  Dense<double> X = sparsegrad::lstsq(A, B, serial);
  auto grads = sparsegrad::lstsq_backward(A, B, X, dX, serial);
  return std::make_pair(std::move(X), std::move(grads));
}

/// Banded m x n matrix: row i has entries near column i·n/m (width w on each side), values from a
/// fixed formula; full column rank for m ≥ n. Every rank builds the same one.
Csr<double> banded(Eigen::Index m, Eigen::Index n, Eigen::Index w) {
  std::vector<Eigen::Triplet<double>> t;
  for (Eigen::Index i = 0; i < m; ++i) {
    const Eigen::Index centre = i * n / m;
    for (Eigen::Index j = std::max<Eigen::Index>(0, centre - w);
         j <= std::min<Eigen::Index>(n - 1, centre + w); ++j)
      t.emplace_back(int(i), int(j), (j == centre ? 4.0 : 0.0) + std::sin(1.0 + 0.7 * i + 1.3 * j));
  }
  Csr<double> A(m, n);
  A.setFromTriplets(t.begin(), t.end());
  return A;
}

sp::Matrix distributed(const Csr<double>& A) {
  return sp::create_matrix(comm(), sparsegrad::to_coo(A));
}

/// Distributes Aref, solves and differentiates with sp::Lsmr(options), and checks X, dB and dA
/// against the dense references (1e-10 relative); returns the distributed gradients.
sp::LstsqGrads check_against_dense(const Csr<double>& Aref, const Dense<double>& B,
                                   const Dense<double>& dX,
                                   const sparsegrad::LsmrOptions<double>& options,
                                   const Dense<double>& X_ref, const Dense<double>& dB_ref,
                                   const Csr<double>& dA_ref) {
  const sp::Matrix A = distributed(Aref);
  sp::Lsmr solver(options);
  const sp::VecBlock X = sp::lstsq(A, to_block(A, B, false), solver);
  CHECK(relative_error(X, X_ref) <= 1e-10);
  sp::LstsqGrads g = sp::lstsq_backward(A, to_block(A, B, false), X, to_block(A, dX, true), solver);
  CHECK(relative_error(g.B, dB_ref) <= 1e-10);
  CHECK(relative_error(g.A, dA_ref) <= 1e-10);
  return g;
}

/// MPI and PETSc for the whole run of the shared Catch main (tests/test_main.cpp): initialized
/// before main, finalized after it. Every rank asserts on the same reduced numbers, so only
/// rank 0 prints; mpirun fails the run if any rank returns non-zero.
struct PetscSession {
  PetscSession() {
    if (PetscInitializeNoArguments() != 0) std::abort();
    if (rank() != 0 && !std::freopen("/dev/null", "w", stdout)) std::abort();
  }
  ~PetscSession() { PetscFinalize(); }
  PetscSession(const PetscSession&) = delete;
  PetscSession& operator=(const PetscSession&) = delete;
};
const PetscSession petsc_session;

}  // namespace

TEST_CASE("petsc::lsmr runs the serial kernel: same solution on a real matrix (well1033)",
          "[petsc]") {
  // Each rank reads the file with io.hpp and inserts only its own rows.
  const auto coo = sparsegrad::read_matrix_market_file<double>(testing::data_path("well1033.mtx"));
  const Dense<double> b =
      sparsegrad::read_dense_matrix_market_file<double>(testing::data_path("well1033_rhs1.mtx"));
  const sp::Matrix A = sp::create_matrix(comm(), coo);

  sparsegrad::Lsmr<double> serial(tight());
  const Dense<double> x_ref = sparsegrad::lstsq(coo, b, serial);

  sp::Lsmr solver(tight());
  const sp::VecBlock X = sp::lstsq(A, to_block(A, b, false), solver);
  CHECK(relative_error(X, x_ref) <= 1e-10);
  // Same stopping rule: both runs stop on the same test, at about the same iteration (the
  // tolerances are near roundoff, so rounding differences can move the stop by a few steps).
  REQUIRE(solver.last().istop.size() == 1);
  CHECK(solver.last().istop[0] == serial.last().istop[0]);
  CHECK(std::abs(solver.last().itn[0] - serial.last().itn[0]) <= 2 + serial.last().itn[0] / 20);
  // The diagnostics are global: identical on every rank.
  CHECK(global_sum(double(solver.last().itn[0])) == ranks() * double(solver.last().itn[0]));

  // Dense QR as an independent reference.
  CHECK(relative_error(X, testing::dense_lstsq(testing::dense(coo), b)) <= 1e-8);
}

TEST_CASE("petsc::lstsq on a generated matrix with a block of right-hand sides", "[petsc]") {
  const Csr<double> Aref = banded(600, 200, 3);
  const Dense<double> B = testing::random_dense<double>(600, 3, 7);
  const sp::Matrix A = distributed(Aref);
  sparsegrad::Lsmr<double> serial(tight());
  const Dense<double> X_ref = sparsegrad::lstsq(Aref, B, serial);
  sp::Lsmr solver(tight());
  const sp::VecBlock X = sp::lstsq(A, to_block(A, B, false), solver);
  CHECK(relative_error(X, X_ref) <= 1e-10);

  // A zero right-hand side gives x = 0 (istop 0), like the serial kernel.
  Dense<double> Z = B;
  Z.col(1).setZero();
  const sp::VecBlock XZ = sp::lstsq(A, to_block(A, Z, false), solver);
  CHECK(solver.last().istop[1] == 0);
  PetscReal norm = 1;
  ok(VecNorm(XZ[1], NORM_2, &norm));
  CHECK(norm == 0);
  CHECK(relative_error(XZ[0], X_ref, 0) <= 1e-10);

  // Single Vec interface.
  const sp::Vector b0 = to_vec(A, B, 0, false);
  const sp::Vector x0 = sp::lstsq(A, b0, solver);
  CHECK(relative_error(x0, X_ref, 0) <= 1e-10);
}

TEST_CASE("petsc::lstsq_backward equals the serial lstsq_backward", "[petsc]") {
  SECTION("well1033, one right-hand side") {
    const auto coo =
        sparsegrad::read_matrix_market_file<double>(testing::data_path("well1033.mtx"));
    const Csr<double> Aref = sparsegrad::to_csr(coo);
    const Dense<double> b =
        sparsegrad::read_dense_matrix_market_file<double>(testing::data_path("well1033_rhs1.mtx"));
    const Dense<double> dx = testing::random_dense<double>(Aref.cols(), 1, 3);
    const auto [x, ref] = serial_reference(Aref, b, dx);

    const sp::Matrix A = sp::create_matrix(comm(), coo);
    sp::Lsmr solver(tight());
    const sp::Vector bv = to_vec(A, b, 0, false), xv = to_vec(A, x, 0, true),
                     dxv = to_vec(A, dx, 0, true);
    const sp::LstsqGrads g = sp::lstsq_backward(A, bv, xv, dxv, solver);
    CHECK(relative_error(g.B, ref.B) <= 1e-10);
    CHECK(relative_error(g.A, ref.A) <= 1e-10);
    CHECK(g.damp == 0);
  }
  SECTION("generated banded matrix, two right-hand sides") {
    const Csr<double> Aref = banded(900, 300, 2);
    const Dense<double> B = testing::random_dense<double>(900, 2, 11);
    const Dense<double> dX = testing::random_dense<double>(300, 2, 12);
    const auto [X, ref] = serial_reference(Aref, B, dX);

    const sp::Matrix A = distributed(Aref);
    sp::Lsmr solver(tight());
    const sp::LstsqGrads g = sp::lstsq_backward(A, to_block(A, B, false), to_block(A, X, true),
                                                to_block(A, dX, true), solver);
    CHECK(relative_error(g.B, ref.B) <= 1e-10);
    CHECK(relative_error(g.A, ref.A) <= 1e-10);
  }
}

TEST_CASE("petsc::lstsq_backward agrees with central finite differences", "[petsc]") {
  const Csr<double> Aref = banded(30, 12, 2);
  const Dense<double> Ad = testing::dense(Aref);
  const Dense<double> B = testing::random_dense<double>(30, 1, 5);
  const Dense<double> dX = testing::random_dense<double>(12, 1, 6);
  const auto fd = testing::finite_differences(Ad, B, dX, testing::pattern_of(Aref));
  const Dense<double> X = testing::dense_lstsq(Ad, B);

  const sp::Matrix A = distributed(Aref);
  sp::Lsmr solver(tight());
  const sp::LstsqGrads g = sp::lstsq_backward(A, to_block(A, B, false), to_block(A, X, true),
                                              to_block(A, dX, true), solver);
  CHECK(relative_error(g.B, fd.dB) <= 1e-6);
  CHECK(relative_error(g.A, on_pattern(Aref, fd.dA)) <= 1e-6);
}

TEST_CASE("petsc::KspLsqr (PETSc's KSPLSQR) as the solver, with sparsegrad's gradients",
          "[petsc]") {
  const Csr<double> Aref = banded(600, 200, 3);
  const Dense<double> B = testing::random_dense<double>(600, 2, 21);
  const Dense<double> dX = testing::random_dense<double>(200, 2, 22);
  const auto [X_ref, ref] = serial_reference(Aref, B, dX);
  const sp::Matrix A = distributed(Aref);

  for (const char* pc : {"none", "jacobi"}) {
    INFO("pc_type " << pc);
    sp::KspLsqr ksp;
    ksp.options.rtol = 1e-14;
    ksp.options.pc_type = pc;
    const sp::VecBlock X = sp::lstsq(A, to_block(A, B, false), ksp);
    CHECK(relative_error(X, X_ref) <= 1e-10);
    for (int reason : ksp.last_reasons()) CHECK(reason > 0);
    const sp::LstsqGrads g =
        sp::lstsq_backward(A, to_block(A, B, false), X, to_block(A, dX, true), ksp);
    CHECK(relative_error(g.B, ref.B) <= 1e-10);
    CHECK(relative_error(g.A, ref.A) <= 1e-10);
  }

  // The preconditioner chosen through PETSc's options database, under the functor's prefix.
  {
    ok(PetscOptionsSetValue(nullptr, "-sparsegrad_pc_type", "jacobi"));
    sp::KspLsqr ksp;
    ksp.options.rtol = 1e-14;
    const sp::VecBlock X = sp::lstsq(A, to_block(A, B, false), ksp);
    ok(PetscOptionsClearValue(nullptr, "-sparsegrad_pc_type"));
    CHECK(relative_error(X, X_ref) <= 1e-10);
  }

  // A plain callable (no solve_adjoint / solve_normal): the transposed solve falls back to
  // petsc::Lsmr's, as the serial library does with its default LSMR.
  sp::KspLsqr ksp;
  ksp.options.rtol = 1e-14;
  auto plain = [&ksp](Mat A_, const sp::VecBlock& B_) { return ksp(A_, B_); };
  const sp::LstsqGrads g = sp::lstsq_backward(A, to_block(A, B, false), to_block(A, X_ref, true),
                                              to_block(A, dX, true), plain);
  // dB comes from the default (1e-6) LSMR, H from KSPLSQR: accurate to the default tolerance.
  CHECK(relative_error(g.B, ref.B) <= 1e-4);
  CHECK(relative_error(g.A, ref.A) <= 1e-4);
}

TEST_CASE("petsc::Lsmr::solve_normal (CRAIG on the distributed A) gives one-solve gradients",
          "[petsc]") {
  const Csr<double> Aref = banded(600, 200, 3);
  const Dense<double> dX = testing::random_dense<double>(200, 2, 51);
  const sp::Matrix A = distributed(Aref);
  sp::Lsmr solver(tight());
  const sp::VecBlock H = solver.solve_normal(A, to_block(A, dX, true));
  // Dense reference: H = (AᵀA)⁻¹dX.
  const Dense<double> Ad = testing::dense(Aref);
  const Dense<double> H_ref = (Ad.transpose() * Ad).ldlt().solve(dX);
  CHECK(relative_error(H, H_ref) <= 1e-10);
  // The serial CRAIG on the same problem.
  sparsegrad::Lsmr<double> serial(tight());
  CHECK(relative_error(H, serial.solve_normal(Aref, dX)) <= 1e-10);
}

TEST_CASE("petsc: damped forward and backward, tall and wide, against the dense formula",
          "[petsc]") {
  const double lambda = 0.5;
  for (auto [m, n] : {std::pair<Eigen::Index, Eigen::Index>{90, 30}, {30, 90}}) {
    INFO(m << " x " << n);
    const Csr<double> Aref = banded(m, n, 2);
    const Dense<double> Ad = testing::dense(Aref);
    const Dense<double> B = testing::random_dense<double>(m, 2, 61);
    const Dense<double> dX = testing::random_dense<double>(n, 2, 62);
    // Dense reference: N = AᵀA + λ²I, X = N⁻¹AᵀB, H = N⁻¹dX, dB = A H, dA = −dB Xᵀ − r Hᵀ,
    // dλ = −2λ Σ X∘H; and a central difference of L(λ) = Σ dX∘X(λ) for dλ.
    auto solve_x = [&](double l) -> Dense<double> {
      const Dense<double> N = Ad.transpose() * Ad + l * l * Dense<double>::Identity(n, n);
      return N.ldlt().solve(Ad.transpose() * B);
    };
    const Dense<double> N = Ad.transpose() * Ad + lambda * lambda * Dense<double>::Identity(n, n);
    const Dense<double> X_ref = solve_x(lambda), H_ref = N.ldlt().solve(dX);
    const Dense<double> dB_ref = Ad * H_ref;
    const Dense<double> dA_dense =
        -dB_ref * X_ref.transpose() - (Ad * X_ref - B) * H_ref.transpose();
    const Csr<double> dA_ref = on_pattern(Aref, dA_dense);
    const double ddamp_ref = -2 * lambda * (X_ref.array() * H_ref.array()).sum();
    const double h = 1e-5;
    const double ddamp_fd = ((dX.array() * solve_x(lambda + h).array()).sum() -
                             (dX.array() * solve_x(lambda - h).array()).sum()) /
                            (2 * h);

    auto opt = tight();
    opt.damp = lambda;
    const sp::LstsqGrads g = check_against_dense(Aref, B, dX, opt, X_ref, dB_ref, dA_ref);
    CHECK(std::abs(g.damp - ddamp_ref) <= 1e-10 * std::abs(ddamp_ref));
    CHECK(std::abs(g.damp - ddamp_fd) <= 1e-6 * std::abs(ddamp_fd));
    // Every rank holds the same dλ (a global reduction).
    CHECK(global_max(g.damp) == -global_max(-g.damp));
  }
}

TEST_CASE(
    "petsc: undamped wide A, minimum-norm solution and its gradient, against the dense "
    "formula",
    "[petsc]") {
  // Dense reference (Golub–Pereyra for full row rank): X = Aᵀ(AAᵀ)⁻¹B, dB = (AAᵀ)⁻¹A dX,
  // W = (AAᵀ)⁻¹B, dA = −dB Xᵀ + W (dX − Aᵀ dB)ᵀ on A's pattern.
  const Csr<double> Aref = banded(30, 90, 2);
  const Dense<double> Ad = testing::dense(Aref);
  const Dense<double> B = testing::random_dense<double>(30, 2, 71);
  const Dense<double> dX = testing::random_dense<double>(90, 2, 72);
  const Eigen::LDLT<Dense<double>> AAt((Ad * Ad.transpose()).eval());
  const Dense<double> W_ref = AAt.solve(B), X_ref = Ad.transpose() * W_ref;
  const Dense<double> dB_ref = AAt.solve(Ad * dX);
  const Dense<double> dA_dense =
      -dB_ref * X_ref.transpose() + W_ref * (dX - Ad.transpose() * dB_ref).transpose();
  const sp::LstsqGrads g =
      check_against_dense(Aref, B, dX, tight(), X_ref, dB_ref, on_pattern(Aref, dA_dense));
  CHECK(g.damp == 0);
}

TEST_CASE("no rank stores more than its rows of A plus the ghost entries of X and H it needs",
          "[petsc]") {
  const Eigen::Index m = 1200, n = 400;
  const Csr<double> Aref = banded(m, n, 2);
  const sp::Matrix A = distributed(Aref);
  PetscInt r0 = 0, r1 = 0, c0 = 0, c1 = 0;
  ok(MatGetOwnershipRange(A, &r0, &r1));
  ok(MatGetOwnershipRangeColumn(A, &c0, &c1));

  // What this rank's rows need, counted from the reference independently of the library.
  double own_nnz = 0;
  std::set<int> columns;
  for (PetscInt i = r0; i < r1; ++i)
    for (Csr<double>::InnerIterator it(Aref, i); it; ++it) {
      ++own_nnz;
      columns.insert(int(it.col()));
    }
  const double off_rank = double(
      std::count_if(columns.begin(), columns.end(), [&](int j) { return j < c0 || j >= c1; }));

  // A: this rank stores its own rows' nonzeros and nothing else.
  MatInfo info;
  ok(MatGetInfo(A, MAT_LOCAL, &info));
  double bad = info.nz_used != own_nnz;
  CHECK(global_max(bad) == 0);
  CHECK(global_sum(info.nz_used) == double(Aref.nonZeros()));

  const Dense<double> B = testing::random_dense<double>(m, 1, 31);
  const Dense<double> dX = testing::random_dense<double>(n, 1, 32);
  sp::Lsmr solver(tight());
  const sp::VecBlock Bv = to_block(A, B, false);
  const sp::VecBlock X = sp::lstsq(A, Bv, solver);
  const sp::LstsqGrads g = sp::lstsq_backward(A, Bv, X, to_block(A, dX, true), solver);

  // Vectors: only the owned part on each rank.
  PetscInt lx = 0, lb = 0;
  ok(VecGetLocalSize(X[0], &lx));
  ok(VecGetLocalSize(g.B[0], &lb));
  bad = lx != c1 - c0 || lb != r1 - r0;
  // Gathered entries of X and H: exactly the off-rank columns of this rank's rows.
  bad += g.ghosts != PetscInt(off_rank);
  // dA: same local storage as A.
  MatInfo ginfo;
  ok(MatGetInfo(g.A, MAT_LOCAL, &ginfo));
  bad += ginfo.nz_used != own_nnz;
  CHECK(global_max(bad) == 0);
  if (ranks() > 1) {
    // Nothing is collected on one rank: every rank (rank 0 included) holds a fraction.
    CHECK(global_max(double(g.ghosts)) < double(n) / ranks());
    CHECK(global_sum(double(g.ghosts)) > 0);  // the rows do reach across ranks
    CHECK(global_max(own_nnz) < double(Aref.nonZeros()));
    CHECK(global_max(double(lx)) < double(n));
  }
}

TEST_CASE("petsc backend: bad input and unsupported problems throw on every rank", "[petsc]") {
  const Csr<double> Aref = banded(60, 20, 1);
  const sp::Matrix A = distributed(Aref);
  const Dense<double> B = testing::random_dense<double>(60, 1, 41);
  const Dense<double> x = testing::random_dense<double>(20, 1, 42);
  sp::Lsmr solver(tight());

  // b with the column layout (wrong global size).
  CHECK_THROWS_AS(sp::lstsq(A, to_block(A, x, true), solver), std::invalid_argument);
  // Non-finite b.
  Dense<double> bad = B;
  bad(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(sp::lstsq(A, to_block(A, bad, false), solver), std::invalid_argument);

  // Rank-deficient A (a zero column): inconsistent transposed system.
  Csr<double> deficient = Aref;
  for (Eigen::Index i = 0; i < deficient.outerSize(); ++i)
    for (Csr<double>::InnerIterator it(deficient, i); it; ++it)
      if (it.col() == 5) it.valueRef() = 0;
  const sp::Matrix D = distributed(deficient);
  sp::Lsmr lenient(tight());
  lenient.options.throw_on_failure = false;
  Dense<double> dX = Dense<double>::Zero(20, 1);
  dX(5, 0) = 1;
  CHECK_THROWS_AS(sp::lstsq_backward(D, to_block(D, B, false), to_block(D, x, true),
                                     to_block(D, dX, true), lenient),
                  std::domain_error);

  // A COO that is bad on one rank only: every rank throws (no rank left in a collective call).
  sparsegrad::CooMatrix<double, int> one = sparsegrad::to_coo(Aref);
  if (rank() == ranks() - 1) one.col[0] = 1000;
  CHECK_THROWS_AS(sp::create_matrix(comm(), one), std::invalid_argument);
  sparsegrad::CooMatrix<double, int> shape = sparsegrad::to_coo(Aref);
  if (rank() == 0) shape.cols += 1;
  if (ranks() > 1) CHECK_THROWS_AS(sp::create_matrix(comm(), shape), std::invalid_argument);

  // Sizes beyond 32-bit PetscInt are refused, not truncated.
  sparsegrad::CooMatrix<double, int> huge;
  huge.rows = Eigen::Index(1) << 33;
  huge.cols = 4;
  if (sizeof(PetscInt) == 4)
    CHECK_THROWS_AS(sp::create_matrix(comm(), huge), std::invalid_argument);
}
