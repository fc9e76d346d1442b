// SPDX-License-Identifier: Apache-2.0
// Google Benchmark programs for sparsegrad's forward and backward passes.
//
//   SPARSEGRAD_BENCH_PROBLEMS=well1033,gen_1e6 ./lsq_benchmarks [--benchmark_... options]
//
// Per problem p and thread count t (1 and 2) it registers:
//   products/p/t      one A·v plus one Aᵀ·u (k = 1): the bandwidth floor of an iteration
//   products8/p/t     the same with k = 8 columns
//   products_copy/p/t, products_scatter/p/t: Aᵀu by the transposed copy or by a scatter
//   transposed_copy/p the one-off cost of making that copy
//   lsmr_marginal/p/t LSMR time per iteration, as (time of 40 iterations − time of 10) / 30:
//                     the iteration cost without the one-off setup
//   forward/p/k/t     lsmr(A, B) with scipy's defaults (atol = btol = 1e-6), k = 1 and 8
//   forward_float/p/t the same in float, k = 1
//   backward/p/k/t    lstsq_backward(A, B, X, dX) with the default one-solve (CRAIG) path
//   backward_seed/p/t the seed's two-solve form (LSMR on Aᵀ, then LSMR on A), k = 1
// Counters: nnz, itn (max over columns), rows, cols.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <sparsegrad/sparsegrad.hpp>
#include <sstream>

#include "problems.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using Matrix = Eigen::MatrixXd;

template <class Scalar>
const Eigen::SparseMatrix<Scalar, Eigen::RowMajor, int>& problem(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Eigen::SparseMatrix<Scalar, Eigen::RowMajor, int>>>
      cache;
  auto& slot = cache[name];
  if (!slot)
    slot = std::make_unique<Eigen::SparseMatrix<Scalar, Eigen::RowMajor, int>>(
        bench::load_problem<Scalar>(name));
  return *slot;
}

void set_threads(int t) {
#ifdef _OPENMP
  omp_set_num_threads(t);
#else
  (void)t;
#endif
}

template <class A>
void describe(benchmark::State& state, const A& a, int itn) {
  state.counters["nnz"] = double(a.nonZeros());
  state.counters["rows"] = double(a.rows());
  state.counters["cols"] = double(a.cols());
  state.counters["itn"] = double(itn);
}

int max_itn(const std::vector<int>& itn) {
  int out = 0;
  for (int i : itn) out = std::max(out, i);
  return out;
}

void products(benchmark::State& state, std::string name, int threads, Eigen::Index k,
              sparsegrad::TransposedProduct how) {
  set_threads(threads);
  const auto& A = problem<double>(name);
  const auto op = sparsegrad::make_operator(A, how);
  const Matrix V = Matrix::Ones(A.cols(), k), U = Matrix::Ones(A.rows(), k);
  Matrix Y(A.rows(), k), Z(A.cols(), k);
  for (auto _ : state) {
    op.apply(V, Y);
    op.apply_adjoint(U, Z);
    benchmark::DoNotOptimize(Y.data());
    benchmark::DoNotOptimize(Z.data());
  }
  describe(state, A, 1);
}

/// The one-off cost of the transposed copy (CSR -> CSC) that TransposedProduct::copy makes.
void transposed_copy(benchmark::State& state, std::string name) {
  const auto& A = problem<double>(name);
  for (auto _ : state) {
    Eigen::SparseMatrix<double, Eigen::ColMajor, int> T = A;
    benchmark::DoNotOptimize(T.valuePtr());
  }
  describe(state, A, 0);
}

void lsmr_marginal(benchmark::State& state, std::string name, int threads) {
  set_threads(threads);
  const auto& A = problem<double>(name);
  const Matrix B = bench::rhs<double>(A.rows(), 1);
  auto run = [&](long iterations) {
    sparsegrad::LsmrOptions<double> opt;
    opt.atol = opt.btol = 0;  // run exactly `iterations` iterations
    opt.conlim = std::numeric_limits<double>::infinity();
    opt.maxiter = iterations;
    const auto start = std::chrono::steady_clock::now();
    auto r = sparsegrad::lsmr(A, B, opt);
    benchmark::DoNotOptimize(r.X.data());
    return std::make_pair(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), r.itn[0]);
  };
  int itn = 0;
  for (auto _ : state) {
    const auto few = run(10), many = run(40);
    itn = many.second - few.second;
    state.SetIterationTime(std::max(0.0, many.first - few.first) / std::max(1, itn));
  }
  describe(state, A, itn);
}

template <class Scalar>
void forward(benchmark::State& state, std::string name, int threads, Eigen::Index k) {
  set_threads(threads);
  const auto& A = problem<Scalar>(name);
  const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> B = bench::rhs<Scalar>(A.rows(), k);
  int itn = 0;
  for (auto _ : state) {
    auto r = sparsegrad::lsmr(A, B);
    benchmark::DoNotOptimize(r.X.data());
    itn = max_itn(r.itn);
  }
  describe(state, A, itn);
}

void backward(benchmark::State& state, std::string name, int threads, Eigen::Index k, bool seed) {
  set_threads(threads);
  const auto& A = problem<double>(name);
  const Matrix B = bench::rhs<double>(A.rows(), k);
  sparsegrad::LsmrOptions<double> opt;
  opt.throw_on_failure = false;
  sparsegrad::Lsmr<double> solver(opt);
  const Matrix X = solver(A, B);
  const Matrix dX = Matrix::Ones(A.cols(), k);
  int itn = 0;
  for (auto _ : state) try {
      if (seed) {
        sparsegrad::Lsmr<double> forward_solver(opt), transpose_solver(opt);
        auto g = sparsegrad::lstsq_backward(
            A, B, X, dX, forward_solver,
            [&](const auto& A_, const Matrix& G) { return transpose_solver.solve_adjoint(A_, G); });
        benchmark::DoNotOptimize(g.B.data());
        itn = max_itn(forward_solver.last().itn) + max_itn(transpose_solver.last().itn);
      } else {
        auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
        benchmark::DoNotOptimize(g.B.data());
        itn = max_itn(solver.last().itn);
      }
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
  describe(state, A, itn);
}

std::vector<std::string> problems_from_env() {
  const char* env = std::getenv("SPARSEGRAD_BENCH_PROBLEMS");
  std::string list =
      env ? env : "well1033,well1850,Franz6_id1959_aug,gen_1e5,gen_1e6,gen_1e6_dense,gen_1e7";
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const char* only_one = std::getenv("SPARSEGRAD_BENCH_ONCE");  // smoke test: one iteration each
  auto configure = [&](benchmark::internal::Benchmark* b) {
    b->Unit(benchmark::kMillisecond);
    if (only_one) b->Iterations(1);
    return b;
  };
  const auto automatic = sparsegrad::TransposedProduct::automatic;
  for (const auto& p : problems_from_env()) {
    configure(benchmark::RegisterBenchmark(("transposed_copy/" + p).c_str(), transposed_copy, p));
    for (int t : {1, 2}) {
      const std::string s = p + "/" + std::to_string(t);
      configure(
          benchmark::RegisterBenchmark(("products/" + s).c_str(), products, p, t, 1, automatic));
      configure(
          benchmark::RegisterBenchmark(("products8/" + s).c_str(), products, p, t, 8, automatic));
      // Aᵀu by the transposed copy (gather) versus by a scatter over A, same thread count.
      configure(benchmark::RegisterBenchmark(("products_copy/" + s).c_str(), products, p, t, 1,
                                             sparsegrad::TransposedProduct::copy));
      configure(benchmark::RegisterBenchmark(("products_scatter/" + s).c_str(), products, p, t, 1,
                                             sparsegrad::TransposedProduct::scatter));
      configure(benchmark::RegisterBenchmark(("lsmr_marginal/" + s).c_str(), lsmr_marginal, p, t))
          ->UseManualTime();
      for (Eigen::Index k : {1, 8}) {
        const std::string sk = p + "/" + std::to_string(k) + "/" + std::to_string(t);
        configure(
            benchmark::RegisterBenchmark(("forward/" + sk).c_str(), forward<double>, p, t, k));
        configure(
            benchmark::RegisterBenchmark(("backward/" + sk).c_str(), backward, p, t, k, false));
      }
      configure(benchmark::RegisterBenchmark(("forward_float/" + s).c_str(), forward<float>, p, t,
                                             Eigen::Index(1)));
      configure(benchmark::RegisterBenchmark(("backward_seed/" + s).c_str(), backward, p, t,
                                             Eigen::Index(1), true));
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
