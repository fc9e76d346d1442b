// Built with ThreadSanitizer (ctest thread_safety): the documented thread-safety rule, "calls
// that do not share a solver object are independent", exercised by concurrent forward and
// backward passes, each thread with its own Lsmr (and default calls, which make their own).
// OpenMP is off in this program: its runtime is not instrumented and would report false races.
#include <Eigen/SparseCore>
#include <cstdio>
#include <sparsegrad/sparsegrad.hpp>
#include <thread>
#include <vector>

int main() {
  const Eigen::Index m = 400, n = 120;
  std::vector<Eigen::Triplet<double>> t;
  for (Eigen::Index i = 0; i < m; ++i) {
    t.emplace_back(int(i), int(i % n), 3.0);
    t.emplace_back(int(i), int((7 * i + 3) % n), std::cos(double(i)));
  }
  Eigen::SparseMatrix<double, Eigen::RowMajor> A(m, n);
  A.setFromTriplets(t.begin(), t.end());
  Eigen::MatrixXd B(m, 2), dX(n, 2);
  for (Eigen::Index i = 0; i < m; ++i) B(i, 0) = std::sin(double(i)), B(i, 1) = 1.0 / double(i + 1);
  for (Eigen::Index i = 0; i < n; ++i) dX(i, 0) = std::cos(0.3 * double(i)), dX(i, 1) = 1;
  const Eigen::MatrixXd serial = sparsegrad::lstsq(A, B);
  std::vector<Eigen::MatrixXd> X(4), dB(4);
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < X.size(); ++k)
    threads.emplace_back([&, k] {
      sparsegrad::Lsmr<double> solver;
      X[k] = sparsegrad::lstsq(A, B, solver);
      dB[k] = sparsegrad::lstsq_backward(A, B, X[k], dX, solver).B;
      (void)sparsegrad::lstsq(A, B);  // a default call, its own solver
    });
  for (auto& th : threads) th.join();
  for (std::size_t k = 0; k < X.size(); ++k)
    if (!(X[k] == serial) || !(dB[k] == dB[0])) {
      std::printf("thread %zu differs from the serial result\n", k);
      return 1;
    }
  std::printf("4 threads, each with its own solver: results identical to the serial run\n");
  return 0;
}
