// SPDX-License-Identifier: Apache-2.0
// Driver for profiling one LSMR solve (or one SpMV pair) under callgrind or perf: builds a
// benchmark problem, then runs the measured part REPEAT times between callgrind's
// start/stop-instrumentation requests, so `valgrind --tool=callgrind --instr-atstart=no`
// counts only that part. scripts/profile-lsmr.sh runs it and benchmarks/callgrind_breakdown.py
// turns the counts into a per-iteration breakdown.
//
//   lsmr_profile PROBLEM K THREADS ITERATIONS [REPEAT] [lsmr|op_pair|op_pair_scatter|eigen_pair]
//
// lsmr: sparsegrad::lsmr with tolerances 0 and maxiter = ITERATIONS (so exactly that many
// iterations run); op_pair / eigen_pair: ITERATIONS times one A·V plus one Aᵀ·U with
// sparsegrad's operator (as lsmr builds it) / with Eigen's products; op_pair_scatter: the
// operator with the serial scatter for Aᵀ·U (TransposedProduct::scatter).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sparsegrad/sparsegrad.hpp>
#include <string>

#include "problems.hpp"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: %s PROBLEM K THREADS ITERATIONS [REPEAT] "
                 "[lsmr|op_pair|op_pair_scatter|eigen_pair]\n",
                 argv[0]);
    return 2;
  }
  const std::string name = argv[1], what = argc > 6 ? argv[6] : "lsmr";
  const Eigen::Index k = std::atol(argv[2]);
  const int threads = std::atoi(argv[3]);
  const long iterations = std::atol(argv[4]), repeat = argc > 5 ? std::atol(argv[5]) : 1;
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  (void)threads;
#endif
  const bench::Csr A = bench::load_problem(name);
  const Eigen::MatrixXd B = bench::hashed_block<double>(A.rows(), k, bench::rhs_salt);
  sparsegrad::LsmrOptions<double> opt;
  opt.atol = opt.btol = 0;
  opt.conlim = std::numeric_limits<double>::infinity();
  opt.maxiter = iterations;
  const auto op = sparsegrad::make_operator(A);
  const auto serial_op = sparsegrad::make_operator(A, sparsegrad::TransposedProduct::scatter);
  Eigen::MatrixXd V = Eigen::MatrixXd::Ones(A.cols(), k), Y(A.rows(), k), Z(A.cols(), k);
  int itn = 0;
  double checksum = 0;

  CALLGRIND_START_INSTRUMENTATION;
  const auto start = std::chrono::steady_clock::now();
  for (long r = 0; r < repeat; ++r) {
    if (what == "lsmr") {
      const auto result = sparsegrad::lsmr(A, B, opt);
      itn = result.itn[0];
      checksum += result.X(0, 0);
    } else if (what == "op_pair") {
      for (long i = 0; i < iterations; ++i) {
        op.apply(V, Y);
        op.apply_adjoint(B, Z);
      }
      checksum += Y(0, 0) + Z(0, 0);
    } else if (what == "op_pair_scatter") {
      for (long i = 0; i < iterations; ++i) {
        serial_op.apply(V, Y);
        serial_op.apply_adjoint(B, Z);
      }
      checksum += Y(0, 0) + Z(0, 0);
    } else if (what == "eigen_pair") {
      for (long i = 0; i < iterations; ++i) {
        Y.noalias() = A * V;
        Z.noalias() = A.transpose() * B;
      }
      checksum += Y(0, 0) + Z(0, 0);
    } else {
      std::fprintf(stderr, "unknown measurement '%s'\n", what.c_str());
      return 2;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CALLGRIND_STOP_INSTRUMENTATION;
  std::printf(
      "%s %s k=%ld threads=%d: %ld x %ld iterations (itn %d) in %.4f s, %.3f ms per "
      "iteration (checksum %g)\n",
      what.c_str(), name.c_str(), long(k), threads, repeat, iterations, itn, seconds,
      1e3 * seconds / double(repeat * iterations), checksum);
  return 0;
}
