// Show progress of a long LSMR solve and cancel it: LsmrOptions::callback is called after every
// iteration with the current estimates of each right-hand side; returning false stops the solve
// (istop 8, "options.callback asked to stop").
//
//   progress [matrix.mtx] [max seconds]     (default data/lsq/illc1033.mtx, 10 s)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sparsegrad/sparsegrad.hpp>
#include <string>

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : std::string(SPARSEGRAD_DATA_DIR) + "/illc1033.mtx";
  const double budget = argc > 2 ? std::atof(argv[2]) : 10.0;
  const auto A = sparsegrad::read_matrix_market_file<double>(path);
  Eigen::MatrixXd B(A.rows, 3);
  for (Eigen::Index i = 0; i < B.rows(); ++i)
    for (Eigen::Index j = 0; j < 3; ++j) B(i, j) = std::cos(0.37 * double(i) * double(j + 1));

  sparsegrad::LsmrOptions<double> options;
  options.atol = options.btol = 1e-12;
  options.maxiter = 100000;
  const auto start = std::chrono::steady_clock::now();
  options.callback = [&](const sparsegrad::LsmrProgress<double>& p) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // One line, rewritten in place: iteration, time, and the worst column's ‖Aᵀr‖/(‖A‖‖r‖).
    double worst = 0;
    for (std::size_t c = 0; c < p.column.size(); ++c)
      if (p.norma[c] * p.normr[c] > 0)
        worst = std::max(worst, p.normar[c] / (p.norma[c] * p.normr[c]));
    if (p.itn % 50 == 0 || p.column.size() < 3)
      std::printf("\r  itn %6d  %6.2f s  %zu active  max |A^T r|/(|A||r|) = %.3e   ", p.itn,
                  seconds, p.column.size(), worst);
    std::fflush(stdout);
    return seconds < budget;  // false cancels the solve
  };
  options.throw_on_failure = false;  // read the outcome from last() instead of catching
  sparsegrad::Lsmr<double> solver(options);
  std::printf("LSMR on %s (%lld x %lld), 3 right-hand sides, atol = btol = 1e-12\n", path.c_str(),
              (long long)A.rows, (long long)A.cols);
  const Eigen::MatrixXd X = sparsegrad::lstsq(A, B, solver);
  std::printf("\n");
  for (std::size_t j = 0; j < 3; ++j)
    std::printf("  column %zu: istop %d (%s) after %d iterations, |r| = %.6e\n", j,
                solver.last().istop[j], sparsegrad::lsmr_stop_reason(solver.last().istop[j]),
                solver.last().itn[j], solver.last().normr[j]);
  return solver.last().converged() ? 0 : 1;
}
