// SPDX-License-Identifier: Apache-2.0
// Google Benchmark programs for sparsegrad's forward and backward passes, and the yardsticks they
// are measured against in the same process: the machine's memory bandwidth and Eigen's own
// sparse products. benchmarks/report.py runs this program and turns its JSON into the tables.
//
//   lsq_benchmarks --problems=sprand_200k,well1033 [--plan=full|smoke] [--benchmark_...]
//   lsq_benchmarks --stream                 the bandwidth benchmarks only
//   lsq_benchmarks --problem_info=NAME      shape, nnz and CSR checksum of a problem (JSON)
//
// Names are family/problem/k/threads (threads: an OpenMP thread count set with
// omp_set_num_threads; the context field default_threads is what the process got by default):
//   stream_copy/SIZE/t, stream_triad/SIZE/t   c = a, a = b + s c on SIZE = dram | l3 arrays
//   eigen_pair/p/k/t      one A·V + one Aᵀ·U with Eigen's own sparse products (the yardstick)
//   op_pair/p/k/t         the same with sparsegrad's operator as LSMR builds it (automatic)
//   op_pair_copy, op_pair_scatter /p/1/t: Aᵀ·U by the transposed copy or by the scatter
//   transposed_copy/p     the one-off CSR -> CSC copy that TransposedProduct::copy makes
//   lsmr_iter/p/k/t       one LSMR iteration: (time of 20 iterations − time of 5) / 15
//   forward/p/k/t         lsmr(A, B), atol = btol = 1e-8 (the speed issue's tolerance),
//                         maxiter = 20 min(m, n)
//   forward_float/p/k/t   the same in float, with the iteration count of the double run
//   backward/p/k/t        lstsq_backward(A, B, X, dX, Lsmr): the default one-solve (CRAIG) path
//   backward_seed/p/k/t   the seed's two-solve form (LSMR on Aᵀ, then LSMR on A)
// Counters: rows, cols, nnz, k, threads, itn (max over columns), istop (max), bytes (stream:
// bytes a repetition moves, STREAM's count), peak_extra_mb (peak resident memory during the
// benchmark above the resident memory before it, Linux only) and rss_peak_mb (that peak).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sparsegrad/sparsegrad.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "problems.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using Index = Eigen::Index;
template <class Scalar>
using Sparse = Eigen::SparseMatrix<Scalar, Eigen::RowMajor, int>;
template <class Scalar>
using Dense = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

constexpr double tolerance = 1e-8;  // atol = btol of the speed issue
// maxiter = 20 min(m, n) instead of scipy's min(m, n): the ill-conditioned shipped matrices
// (illc1033, lp_e226_T) need more to reach 1e-8; scipy_lsmr.py passes the same.
constexpr Index maxiter_factor = 20;

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_threads(int t) {
#ifdef _OPENMP
  omp_set_num_threads(t);
#else
  (void)t;
#endif
}

// --- peak resident memory of one benchmark (Linux: VmHWM, reset through clear_refs) -------

double status_mb(const char* key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + std::strlen(key)) / 1024.0;
  return std::numeric_limits<double>::quiet_NaN();
}

class PeakMemory {
 public:
  PeakMemory() {
    std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current VmRSS
    baseline_ = status_mb("VmRSS:");
  }
  void report(benchmark::State& state) const {
    const double peak = status_mb("VmHWM:");
    state.counters["rss_peak_mb"] = peak;
    state.counters["peak_extra_mb"] = peak - baseline_;
  }

 private:
  double baseline_;
};

// --- problems, built once per process --------------------------------------------------------

template <class Scalar>
const Sparse<Scalar>& problem(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Sparse<Scalar>>> cache;
  auto& slot = cache[name];
  if (!slot) {
    if constexpr (std::is_same<Scalar, double>::value)
      slot = std::make_unique<Sparse<double>>(bench::load_problem(name));
    else
      slot = std::make_unique<Sparse<Scalar>>(problem<double>(name).template cast<Scalar>());
  }
  return *slot;
}

template <class Scalar>
Dense<Scalar> rhs(const std::string& name, Index k) {
  return bench::hashed_block<Scalar>(problem<double>(name).rows(), k, bench::rhs_salt);
}

template <class A>
void describe(benchmark::State& state, const A& a, Index k, int threads) {
  state.counters["rows"] = double(a.rows());
  state.counters["cols"] = double(a.cols());
  state.counters["nnz"] = double(a.nonZeros());
  state.counters["k"] = double(k);
  state.counters["threads"] = threads;
}

void describe_stats(benchmark::State& state, const std::vector<int>& itn,
                    const std::vector<int>& istop) {
  state.counters["itn"] = itn.empty() ? 0 : *std::max_element(itn.begin(), itn.end());
  state.counters["istop"] = istop.empty() ? 0 : *std::max_element(istop.begin(), istop.end());
}

template <class Scalar = double>
sparsegrad::LsmrOptions<Scalar> solve_options(const std::string& name) {
  const auto& A = problem<double>(name);
  sparsegrad::LsmrOptions<Scalar> opt;
  opt.atol = opt.btol = Scalar(tolerance);
  opt.maxiter = maxiter_factor * std::min(A.rows(), A.cols());
  opt.throw_on_failure = false;
  return opt;
}

// --- yardsticks --------------------------------------------------------------------------------

/// STREAM-like kernels on three arrays of `length` doubles, first touched by the threads that
/// use them. Bytes counted as STREAM does: 16 per element for copy, 24 for triad.
void stream(benchmark::State& state, bool triad, Index length, int threads) {
  set_threads(threads);
  std::unique_ptr<double[]> a(new double[std::size_t(length)]), b(new double[std::size_t(length)]),
      c(new double[std::size_t(length)]);
  double *pa = a.get(), *pb = b.get(), *pc = c.get();
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (Index i = 0; i < length; ++i) pa[i] = 1.0, pb[i] = 2.0, pc[i] = 0.5;
  const double s = 0.75;
  for (auto _ : state) {
    if (triad) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
      for (Index i = 0; i < length; ++i) pa[i] = pb[i] + s * pc[i];
    } else {
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
      for (Index i = 0; i < length; ++i) pc[i] = pa[i];
    }
    benchmark::DoNotOptimize(pa);
    benchmark::DoNotOptimize(pc);
    benchmark::ClobberMemory();
  }
  state.counters["bytes"] = double(length) * (triad ? 24.0 : 16.0);
  state.counters["threads"] = threads;
}

/// One A·V plus one Aᵀ·U with Eigen's sparse x dense products (A·V row-parallel for a CSR A,
/// Aᵀ·U a serial scatter; both read A once per column of V).
void eigen_pair(benchmark::State& state, std::string name, Index k, int threads) {
  set_threads(threads);
  const auto& A = problem<double>(name);
  const Dense<double> V = Dense<double>::Ones(A.cols(), k), U = Dense<double>::Ones(A.rows(), k);
  Dense<double> Y(A.rows(), k), Z(A.cols(), k);
  for (auto _ : state) {
    Y.noalias() = A * V;
    Z.noalias() = A.transpose() * U;
    benchmark::DoNotOptimize(Y.data());
    benchmark::DoNotOptimize(Z.data());
  }
  describe(state, A, k, threads);
}

void op_pair(benchmark::State& state, std::string name, Index k, int threads,
             sparsegrad::TransposedProduct how) {
  set_threads(threads);
  const auto& A = problem<double>(name);
  const auto op = sparsegrad::make_operator(A, how);
  const Dense<double> V = Dense<double>::Ones(A.cols(), k), U = Dense<double>::Ones(A.rows(), k);
  Dense<double> Y(A.rows(), k), Z(A.cols(), k);
  for (auto _ : state) {
    op.apply(V, Y);
    op.apply_adjoint(U, Z);
    benchmark::DoNotOptimize(Y.data());
    benchmark::DoNotOptimize(Z.data());
  }
  describe(state, A, k, threads);
}

void transposed_copy(benchmark::State& state, std::string name) {
  const auto& A = problem<double>(name);
  for (auto _ : state) {
    Eigen::SparseMatrix<double, Eigen::ColMajor, int> T = A;
    benchmark::DoNotOptimize(T.valuePtr());
  }
  describe(state, A, 0, 1);
}

// --- the solves ------------------------------------------------------------------------------

/// Time of one LSMR iteration without the one-off work: the difference of two runs with
/// tolerances 0 (so that only maxiter stops them), divided by the difference of iterations.
void lsmr_iter(benchmark::State& state, std::string name, Index k, int threads) {
  set_threads(threads);
  const auto& A = problem<double>(name);
  const Dense<double> B = rhs<double>(name, k);
  auto run = [&](Index iterations) {
    auto opt = solve_options(name);
    opt.atol = opt.btol = 0;
    opt.conlim = std::numeric_limits<double>::infinity();
    opt.maxiter = iterations;
    const auto start = std::chrono::steady_clock::now();
    auto r = sparsegrad::lsmr(A, B, opt);
    benchmark::DoNotOptimize(r.X.data());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::make_pair(seconds, *std::max_element(r.itn.begin(), r.itn.end()));
  };
  int itn = 0;
  for (auto _ : state) {
    const auto few = run(5), many = run(20);
    itn = many.second - few.second;
    state.SetIterationTime(std::max(0.0, many.first - few.first) / std::max(1, itn));
  }
  describe(state, A, k, threads);
  state.counters["itn"] = itn;
}

/// Iterations of the double solve (max over the k columns), computed once per problem and k.
int double_iterations(const std::string& name, Index k) {
  static std::map<std::pair<std::string, Index>, int> cache;
  auto found = cache.find({name, k});
  if (found != cache.end()) return found->second;
  const auto r = sparsegrad::lsmr(problem<double>(name), rhs<double>(name, k), solve_options(name));
  return cache[{name, k}] = *std::max_element(r.itn.begin(), r.itn.end());
}

template <class Scalar>
void forward(benchmark::State& state, std::string name, Index k, int threads) {
  set_threads(threads);
  const auto& A = problem<Scalar>(name);
  const Dense<Scalar> B = rhs<Scalar>(name, k);
  auto opt = solve_options<Scalar>(name);
  if constexpr (!std::is_same<Scalar, double>::value) {
    // 1e-8 is below float's precision: run as many iterations as the double solve needs, so
    // that float / double compares the same work.
    opt.atol = opt.btol = 0;
    opt.conlim = std::numeric_limits<Scalar>::infinity();
    opt.maxiter = double_iterations(name, k);
  }
  const PeakMemory memory;
  sparsegrad::LsmrResult<Scalar> r;
  for (auto _ : state) {
    r = sparsegrad::lsmr(A, B, opt);
    benchmark::DoNotOptimize(r.X.data());
  }
  memory.report(state);
  describe(state, A, k, threads);
  describe_stats(state, r.itn, r.istop);
}

void backward(benchmark::State& state, std::string name, Index k, int threads, bool seed) {
  set_threads(threads);
  const auto& A = problem<double>(name);
  const Dense<double> B = rhs<double>(name, k);
  sparsegrad::Lsmr<double> solver(solve_options(name));
  const Dense<double> X = solver(A, B);
  const Dense<double> dX = bench::hashed_block<double>(A.cols(), k, bench::grad_salt);
  const PeakMemory memory;
  std::vector<int> itn, istop;
  try {
    for (auto _ : state) {
      if (seed) {
        sparsegrad::Lsmr<double> forward_solver(solve_options(name)),
            transpose_solver(solve_options(name));
        auto g = sparsegrad::lstsq_backward(A, B, X, dX, forward_solver,
                                            [&](const auto& A_, const Dense<double>& G) {
                                              return transpose_solver.solve_adjoint(A_, G);
                                            });
        benchmark::DoNotOptimize(g.B.data());
        // H = forward_solver(A, dB) is a forward solve (last()); the transposed solve's
        // diagnostics are the transpose solver's last_backward(), not its (empty) last().
        const auto& transposed = transpose_solver.last_backward();
        itn = forward_solver.last().itn;
        istop = forward_solver.last().istop;
        for (std::size_t j = 0; j < itn.size(); ++j) {
          itn[j] += transposed.itn.at(j);
          istop[j] = std::max(istop[j], transposed.istop.at(j));
        }
      } else {
        // The one solve (CRAIG, solve_normal) reports in last_backward(); last() still holds
        // the forward solve X = solver(A, B) above.
        auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
        benchmark::DoNotOptimize(g.B.data());
        itn = solver.last_backward().itn, istop = solver.last_backward().istop;
      }
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  memory.report(state);
  describe(state, A, k, threads);
  describe_stats(state, itn, istop);
}

// --- what runs where ----------------------------------------------------------------------------

/// Which configurations a problem is measured in. The speed issue's problem gets all of them;
/// the shipped matrices and the 1e7-nonzero case a subset that keeps the full run short.
/// Applied to every registered benchmark; `manual` for those that time themselves.
using Configure = std::function<void(benchmark::internal::Benchmark*, bool manual)>;

struct Plan {
  std::vector<Index> forward, forward_float, backward, backward_seed, iteration, pair;
  std::vector<int> threads;
};

std::vector<int> thread_counts(bool with_two) {
  std::vector<int> t = {1};
  if (with_two) t.push_back(2);
  t.push_back(max_threads());  // the default, as a user gets it
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

Plan plan_for(const std::string& problem, bool smoke) {
  if (smoke || problem == "sprand_200k")
    return {{1, 4, 8, 32}, {1, 8}, {1, 4, 8}, {1, 8}, {1, 8}, {1, 4, 8, 32}, thread_counts(true)};
  if (problem == "sprand_1m") return {{1, 8}, {1}, {1}, {}, {1}, {1, 8}, thread_counts(false)};
  return {{1, 8}, {1}, {1, 8}, {1}, {1}, {1, 8}, thread_counts(false)};
}

std::string key(const char* family, const std::string& p, Index k, int t) {
  return std::string(family) + "/" + p + "/" + std::to_string(k) + "/" + std::to_string(t);
}

void register_problem(const std::string& p, bool smoke, const Configure& configure) {
  using sparsegrad::TransposedProduct;
  const Plan plan = plan_for(p, smoke);
  auto add = [&](const std::string& name, auto&&... args) {
    configure(benchmark::RegisterBenchmark(name.c_str(), args...), false);
  };
  add("transposed_copy/" + p, transposed_copy, p);
  // One thread count at a time, fewest first: a thread team idling from an earlier region
  // never overlaps a single-thread measurement.
  for (int t : plan.threads) {
    for (Index k : plan.pair) {
      add(key("eigen_pair", p, k, t), eigen_pair, p, k, t);
      add(key("op_pair", p, k, t), op_pair, p, k, t, TransposedProduct::automatic);
    }
    add(key("op_pair_copy", p, 1, t), op_pair, p, Index(1), t, TransposedProduct::copy);
    add(key("op_pair_scatter", p, 1, t), op_pair, p, Index(1), t, TransposedProduct::scatter);
    for (Index k : plan.iteration)
      configure(benchmark::RegisterBenchmark(key("lsmr_iter", p, k, t).c_str(), lsmr_iter, p, k, t),
                true);
    for (Index k : plan.forward) add(key("forward", p, k, t), forward<double>, p, k, t);
    for (Index k : plan.forward_float) add(key("forward_float", p, k, t), forward<float>, p, k, t);
    for (Index k : plan.backward) add(key("backward", p, k, t), backward, p, k, t, false);
    for (Index k : plan.backward_seed) add(key("backward_seed", p, k, t), backward, p, k, t, true);
  }
}

void register_stream(const Configure& configure) {
  // dram: 3 x 64 MiB, far beyond any last-level cache; l3: 3 x 4 MiB, beyond L2 only.
  const std::pair<const char*, Index> sizes[] = {{"dram", Index(1) << 23}, {"l3", Index(1) << 19}};
  for (int t : thread_counts(true))
    for (const auto& [label, length] : sizes)
      for (bool triad : {false, true}) {
        const std::string name =
            std::string(triad ? "stream_triad/" : "stream_copy/") + label + "/" + std::to_string(t);
        configure(benchmark::RegisterBenchmark(name.c_str(), stream, triad, length, t), false);
      }
}

void print_problem_info(const std::string& name) {
  const auto& A = problem<double>(name);
  std::printf(
      "{\"problem\": \"%s\", \"rows\": %ld, \"cols\": %ld, \"nnz\": %ld, \"checksum\": \"%s\"}\n",
      name.c_str(), long(A.rows()), long(A.cols()), long(A.nonZeros()), bench::checksum(A).c_str());
}

/// Removes --NAME=VALUE (or --NAME) from argv and returns VALUE ("" for a bare flag).
std::optional<std::string> take_flag(int& argc, char** argv, const std::string& name) {
  std::optional<std::string> value;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--" + name)
      value = "";
    else if (arg.rfind("--" + name + "=", 0) == 0)
      value = arg.substr(name.size() + 3);
    else
      argv[out++] = argv[i];
  }
  argc = out;
  return value;
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int default_threads = max_threads();  // before any omp_set_num_threads
  if (const auto info = take_flag(argc, argv, "problem_info")) {
    print_problem_info(*info);
    return 0;
  }
  const bool smoke = take_flag(argc, argv, "plan").value_or("full") == "smoke";
  const bool with_stream = take_flag(argc, argv, "stream").has_value();
  const auto problems = split(take_flag(argc, argv, "problems").value_or(""));
  const Configure configure = [&](benchmark::internal::Benchmark* b, bool manual) {
    b->Unit(benchmark::kMillisecond);
    if (manual)
      b->UseManualTime();
    else
      b->UseRealTime();
    if (smoke) b->Iterations(1);
  };
  if (with_stream) register_stream(configure);
  for (const auto& p : problems) register_problem(p, smoke, configure);

  benchmark::AddCustomContext("default_threads", std::to_string(default_threads));
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  benchmark::AddCustomContext("omp_wait_policy", wait_policy ? wait_policy : "(unset)");
  benchmark::AddCustomContext("eigen_version", std::to_string(EIGEN_WORLD_VERSION) + "." +
                                                   std::to_string(EIGEN_MAJOR_VERSION) + "." +
                                                   std::to_string(EIGEN_MINOR_VERSION));
  benchmark::AddCustomContext("compiler", __VERSION__);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
