// Distributed least squares and its gradient with PETSc: every rank builds only its own rows of
// A, solves with sparsegrad's LSMR (or PETSc's KSPLSQR), backpropagates, and reports time and
// memory.
//
//   mpirun -n 2 ./petsc_lstsq                      # data/lsq/well1033.mtx, every rank reads it
//   mpirun -n 2 ./petsc_lstsq 2000000 500000 2     # generated banded m x n, half-width 2
//   mpirun -n 2 ./petsc_lstsq 2000000 500000 2 -sparsegrad_solver ksplsqr -sparsegrad_pc_type
//   jacobi
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <sparsegrad/backends/petsc.hpp>
#include <sparsegrad/io.hpp>
#include <string>

namespace sp = sparsegrad::petsc;

namespace {

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

double max_over_ranks(double v) {
  double out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD);
  return out;
}

/// This rank's rows of a banded m x n matrix (row i: columns i·n/m ± w), global indices.
sparsegrad::CooMatrix<double> banded_rows(PetscInt m, PetscInt n, PetscInt w, PetscInt r0,
                                          PetscInt r1) {
  auto first = [&](PetscInt i) {
    return std::max<PetscInt>(0, PetscInt(std::int64_t(i) * n / m) - w);
  };
  auto last = [&](PetscInt i) {
    return std::min<PetscInt>(n - 1, PetscInt(std::int64_t(i) * n / m) + w);
  };
  Eigen::Index nnz = 0;
  for (PetscInt i = r0; i < r1; ++i) nnz += last(i) - first(i) + 1;
  sparsegrad::CooMatrix<double> A;
  A.rows = m, A.cols = n;
  A.row.resize(nnz), A.col.resize(nnz), A.values.resize(nnz);
  Eigen::Index e = 0;
  for (PetscInt i = r0; i < r1; ++i)
    for (PetscInt j = first(i); j <= last(i); ++j, ++e) {
      A.row[e] = int(i), A.col[e] = int(j);
      A.values[e] =
          (j == PetscInt(std::int64_t(i) * n / m) ? 4.0 : 0.0) + std::sin(1.0 + 0.7 * i + 1.3 * j);
    }
  return A;
}

}  // namespace

int main(int argc, char** argv) {
  if (PetscInitialize(&argc, &argv, nullptr, nullptr) != 0) return 1;
  int size = 1, rank = 0;
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  int status = 0;
  try {
    // Rows of A: read the whole file on each rank (small matrices), or generate only own rows.
    sp::Matrix A;
    std::string what;
    if (argc >= 4 && argv[1][0] != '-') {
      const PetscInt m = std::atoi(argv[1]), n = std::atoi(argv[2]), w = std::atoi(argv[3]);
      PetscInt local = PETSC_DECIDE, global = m, r1 = 0;
      PetscSplitOwnership(PETSC_COMM_WORLD, &local, &global);
      MPI_Scan(&local, &r1, 1, MPIU_INT, MPI_SUM, PETSC_COMM_WORLD);
      A = sp::create_matrix(PETSC_COMM_WORLD, banded_rows(m, n, w, r1 - local, r1), local);
      what = "banded " + std::to_string(m) + " x " + std::to_string(n);
    } else {
      const std::string path = argc >= 2 && argv[1][0] != '-'
                                   ? std::string(argv[1])
                                   : std::string(SPARSEGRAD_DATA_DIR) + "/well1033.mtx";
      A = sp::create_matrix(PETSC_COMM_WORLD, sparsegrad::read_matrix_market_file<double>(path));
      what = path;
    }
    MatInfo info;
    MatGetInfo(A, MAT_GLOBAL_SUM, &info);
    MatInfo local_info;  // this rank's part of A
    MatGetInfo(A, MAT_LOCAL, &local_info);
    PetscInt m = 0, n = 0;
    MatGetSize(A, &m, &n);

    // b = A·1 + a deterministic perturbation (an inconsistent system); upstream gradient dx = 1.
    sp::Vector b, x1, dx;
    MatCreateVecs(A, x1.out(), b.out());
    MatCreateVecs(A, dx.out(), nullptr);
    VecSet(x1, 1.0);
    VecSet(dx, 1.0);
    MatMult(A, x1, b);
    VecShift(b, 0.01);

    char solver_name[32] = "lsmr";
    PetscOptionsGetString(nullptr, "sparsegrad_", "-solver", solver_name, sizeof solver_name,
                          nullptr);
    const bool ksp = std::string(solver_name) == "ksplsqr";
    sparsegrad::LsmrOptions<double> options;
    options.atol = options.btol = 1e-10;
    options.maxiter = 100000;
    sp::Lsmr lsmr(options);
    sp::KspLsqr lsqr;
    lsqr.options.rtol = 1e-10;

    MPI_Barrier(PETSC_COMM_WORLD);
    double t0 = MPI_Wtime();
    sp::Vector x = ksp ? sp::lstsq(A, b, lsqr) : sp::lstsq(A, b, lsmr);
    const double t_forward = MPI_Wtime() - t0;
    const int iterations = ksp ? lsqr.last_iterations()[0] : lsmr.last().itn[0];
    t0 = MPI_Wtime();
    const sp::LstsqGrads g =
        ksp ? sp::lstsq_backward(A, b, x, dx, lsqr) : sp::lstsq_backward(A, b, x, dx, lsmr);
    const double t_backward = MPI_Wtime() - t0;

    PetscReal normx = 0, normdB = 0, normdA = 0;
    VecNorm(x, NORM_2, &normx);
    VecNorm(g.B[0], NORM_2, &normdB);
    MatNorm(g.A, NORM_FROBENIUS, &normdA);
    const double ghosts = max_over_ranks(double(g.ghosts));
    const double rss = max_over_ranks(peak_rss_mib());
    PetscInt local_m = 0, local_n = 0;
    MatGetLocalSize(A, &local_m, &local_n);
    // AIJ storage: a value and a column index per nonzero, plus row starts.
    const double a_mib =
        max_over_ranks((local_info.nz_allocated * (sizeof(PetscScalar) + sizeof(PetscInt)) +
                        (local_m + 1.0) * sizeof(PetscInt)) /
                       1048576.0);
    // LSMR's workspace for one right-hand side: u, Av (rows); x, v, h, hbar, Aᵀu (columns).
    const double work_mib = max_over_ranks((2.0 * local_m + 5.0 * local_n) * 8 / 1048576.0);
    if (rank == 0)
      std::printf(
          "%s: %d x %d, %.0f nonzeros, %d rank(s), solver %s\n"
          "  forward  %.3f s (%d iterations, %.2f ms each)\n"
          "  backward %.3f s (%s, then dA)\n"
          "  |x| %.6e  |dB| %.6e  |dA| %.6e\n"
          "  per rank (max over ranks): A %.1f MiB, LSMR vectors %.1f MiB, peak RSS %.1f MiB "
          "(includes MPI/PETSc and building A from COO)\n"
          "  ghost entries of X and H per rank (max) %.0f\n",
          what.c_str(), int(m), int(n), info.nz_used, size, solver_name, t_forward, iterations,
          1e3 * t_forward / std::max(iterations, 1), t_backward,
          ksp ? "KSPLSQR on the transpose, then on A" : "one CRAIG solve", normx, normdB, normdA,
          a_mib, work_mib, rss, ghosts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "petsc_lstsq: %s\n", e.what());
    status = 1;
  }
  PetscFinalize();
  return status;
}
