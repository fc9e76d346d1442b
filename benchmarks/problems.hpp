// SPDX-License-Identifier: Apache-2.0
// Benchmark problems: the shipped real matrices (data/lsq) and generated ones, built bit for bit
// as benchmarks/problems.py builds them, so the C++ and the Python side solve the same A and B.
//
// A generated problem is m x n with `per_row` hashed entries per row plus the identity block
// A(i, i mod n) = 1 (n x n identities stacked m / n times: full column rank). Column and value of
// an entry come from the 64-bit hash `mix`; duplicates are summed as integers (thousandths)
// before the one division by 1000, so no rounding can differ between the two languages.
// `checksum` hashes the CSR arrays the same way as problems.py; report.py compares the two.
#ifndef SPARSEGRAD_BENCH_PROBLEMS_HPP
#define SPARSEGRAD_BENCH_PROBLEMS_HPP

#include <Eigen/SparseCore>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sparsegrad/io.hpp>
#include <string>
#include <utility>
#include <vector>

namespace bench {

using Csr = Eigen::SparseMatrix<double, Eigen::RowMajor, int>;

struct Generated {
  const char* name;
  long m, n, per_row;
};

/// Keep in step with GENERATED in problems.py.
inline const std::vector<Generated>& generated_problems() {
  static const std::vector<Generated> list = {
      {"sprand_smoke", 4000, 400, 8},
      {"sprand_20k", 20000, 2000, 8},
      {"sprand_200k", 200000, 20000, 8},  // the problem of the speed issue: 1.8M nonzeros
      {"sprand_1m", 1000000, 100000, 9},  // 1e7 nonzeros
  };
  return list;
}

constexpr long identity_value = 1000;  // thousandths
constexpr std::uint64_t rhs_salt = 0xB5, grad_salt = 0xD7;

inline std::uint64_t mix(std::uint64_t x) {
  x *= 0x9E3779B97F4A7C15ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return x;
}

/// Integer in [-1000, 1000] from a hash: an entry's value in thousandths.
inline long thousandths(std::uint64_t h) {
  return long((h >> 11) % 2001) - 1000;
}

inline Csr generate(const Generated& g) {
  Csr A(g.m, g.n);
  std::vector<int> outer(std::size_t(g.m) + 1, 0), inner;
  std::vector<double> values;
  inner.reserve(std::size_t(g.m * (g.per_row + 1)));
  values.reserve(inner.capacity());
  std::vector<std::pair<long, long>> row;  // (column, thousandths)
  for (long i = 0; i < g.m; ++i) {
    row.clear();
    for (long e = 0; e < g.per_row; ++e) {
      const std::uint64_t h = mix(std::uint64_t(i * g.per_row + e + 1));
      row.emplace_back(long(h % std::uint64_t(g.n)), thousandths(h));
    }
    row.emplace_back(i % g.n, identity_value);
    std::sort(row.begin(), row.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t p = 0; p < row.size();) {
      long sum = 0;
      std::size_t q = p;
      for (; q < row.size() && row[q].first == row[p].first; ++q) sum += row[q].second;
      inner.push_back(int(row[p].first));
      values.push_back(double(sum) / 1000.0);
      p = q;
    }
    outer[std::size_t(i) + 1] = int(inner.size());
  }
  A.resizeNonZeros(Eigen::Index(inner.size()));
  std::copy(outer.begin(), outer.end(), A.outerIndexPtr());
  std::copy(inner.begin(), inner.end(), A.innerIndexPtr());
  std::copy(values.begin(), values.end(), A.valuePtr());
  return A;
}

inline bool is_generated(const std::string& name) {
  for (const auto& g : generated_problems())
    if (name == g.name) return true;
  return false;
}

/// A problem by name: a generated one, or data/lsq/NAME.mtx, as a compressed CSR matrix.
inline Csr load_problem(const std::string& name) {
  for (const auto& g : generated_problems())
    if (name == g.name) return generate(g);
  Csr A = sparsegrad::to_csr(sparsegrad::read_matrix_market_file<double>(
      std::string(SPARSEGRAD_DATA_DIR) + "/" + name + ".mtx"));
  A.makeCompressed();
  return A;
}

/// rows x k block with entries in [-1, 1] (thousandths): B (rhs_salt) or dX (grad_salt).
template <class Scalar>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> hashed_block(Eigen::Index rows,
                                                                   Eigen::Index k,
                                                                   std::uint64_t salt) {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> B(rows, k);
  for (Eigen::Index c = 0; c < k; ++c)
    for (Eigen::Index i = 0; i < rows; ++i) {
      const std::uint64_t h =
          mix((salt << 48) + std::uint64_t(c) * std::uint64_t(rows) + std::uint64_t(i));
      B(i, c) = Scalar(double(thousandths(h)) / 1000.0);
    }
  return B;
}

/// Order-sensitive hash of shape, row starts, column indices and value bits (as problems.py).
inline std::string checksum(const Csr& A) {
  std::uint64_t total = 0;
  auto add = [&](int array, std::uint64_t index, std::uint64_t word) {
    total += mix(word ^ mix(index + (std::uint64_t(array) << 56)));
  };
  add(1, 0, std::uint64_t(std::int64_t(A.rows())));
  add(1, 1, std::uint64_t(std::int64_t(A.cols())));
  for (Eigen::Index i = 0; i <= A.outerSize(); ++i)
    add(2, std::uint64_t(i), std::uint64_t(std::int64_t(A.outerIndexPtr()[i])));
  for (Eigen::Index e = 0; e < A.nonZeros(); ++e) {
    add(3, std::uint64_t(e), std::uint64_t(std::int64_t(A.innerIndexPtr()[e])));
    std::uint64_t bits;
    std::memcpy(&bits, A.valuePtr() + e, sizeof bits);
    add(4, std::uint64_t(e), bits);
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(total));
  return out;
}

}  // namespace bench

#endif  // SPARSEGRAD_BENCH_PROBLEMS_HPP
