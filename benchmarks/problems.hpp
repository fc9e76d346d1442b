// SPDX-License-Identifier: Apache-2.0
// Benchmark problems: shipped real matrices and generated ones, built identically here and in
// benchmarks/scipy_lsmr.py (integer hash, values k/1000), so both sides solve the same A and b.
#ifndef SPARSEGRAD_BENCH_PROBLEMS_HPP
#define SPARSEGRAD_BENCH_PROBLEMS_HPP

#include <Eigen/SparseCore>
#include <cmath>
#include <cstdint>
#include <sparsegrad/io.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

struct Generated {
  const char* name;
  long m, n, per_row;
};

/// Generated problems: m x n, `per_row` hashed entries per row plus 4 on (i, i) for i < n.
inline const std::vector<Generated>& generated_problems() {
  static const std::vector<Generated> list = {
      {"gen_smoke", 2000, 200, 5},
      {"gen_1e5", 20000, 2000, 5},
      {"gen_1e6", 200000, 20000, 5},
      {"gen_1e6_dense", 20000, 2000, 50},  // 50 nonzeros per row: products dominate the vector work
      {"gen_1e7", 1000000, 100000, 10},
  };
  return list;
}

inline std::uint64_t mix(std::uint64_t x) {
  x *= 0x9E3779B97F4A7C15ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return x;
}

template <class Scalar>
Eigen::SparseMatrix<Scalar, Eigen::RowMajor, int> generate(const Generated& g) {
  std::vector<Eigen::Triplet<Scalar, int>> t;
  t.reserve(std::size_t(g.m * g.per_row + g.n));
  for (long i = 0; i < g.m; ++i) {
    if (i < g.n) t.emplace_back(int(i), int(i), Scalar(4));
    for (long e = 0; e < g.per_row; ++e) {
      const std::uint64_t h = mix(std::uint64_t(i * g.per_row + e + 1));
      const long col = long(h % std::uint64_t(g.n));
      const double value = double(long((h >> 11) % 2001) - 1000) / 1000.0;
      t.emplace_back(int(i), int(col), Scalar(value));
    }
  }
  Eigen::SparseMatrix<Scalar, Eigen::RowMajor, int> A(g.m, g.n);
  A.setFromTriplets(t.begin(), t.end());
  return A;
}

/// A problem by name: a generated one, or a file in data/lsq (e.g. "well1033").
template <class Scalar>
Eigen::SparseMatrix<Scalar, Eigen::RowMajor, int> load_problem(const std::string& name) {
  for (const auto& g : generated_problems())
    if (name == g.name) return generate<Scalar>(g);
  return sparsegrad::to_csr(sparsegrad::read_matrix_market_file<Scalar>(
      std::string(SPARSEGRAD_DATA_DIR) + "/" + name + ".mtx"));
}

/// b_i = cos(0.37 i) + 0.001 i (the right-hand side of tests/reference), column c shifted by c.
template <class Scalar>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> rhs(Eigen::Index m, Eigen::Index k) {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> B(m, k);
  for (Eigen::Index c = 0; c < k; ++c)
    for (Eigen::Index i = 0; i < m; ++i)
      B(i, c) = Scalar(std::cos(0.37 * double(i) + double(c)) + 0.001 * double(i));
  return B;
}

}  // namespace bench

#endif  // SPARSEGRAD_BENCH_PROBLEMS_HPP
