// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_IO_HPP
#define SPARSEGRAD_IO_HPP

/// \file io.hpp
/// Matrix Market reading: sparse `coordinate` files into a CooMatrix (real, integer or pattern;
/// general, symmetric or skew-symmetric) and dense `array` files into an Eigen matrix.
/// Malformed content throws std::invalid_argument naming the line; a file that cannot be
/// opened throws std::runtime_error.

#include <Eigen/Core>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "coo.hpp"
#include "detail/checks.hpp"

namespace sparsegrad {
namespace detail {

struct MatrixMarketHeader {
  std::string format;    // coordinate | array
  std::string field;     // real | integer | pattern | double
  std::string symmetry;  // general | symmetric | skew-symmetric
};

[[noreturn]] inline void throw_mm(const std::string& expected, const std::string& got, long line) {
  throw_invalid("read_matrix_market", "stream", expected, concat(got, " (line ", line, ")"));
}

inline std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// Reads the banner and skips comments; leaves `in` at the size line.
inline MatrixMarketHeader read_mm_header(std::istream& in, long& line_no) {
  std::string line;
  line_no = 1;
  if (!std::getline(in, line)) throw_mm("a '%%MatrixMarket' banner", "an empty stream", line_no);
  std::istringstream banner(line);
  std::string tag, object;
  MatrixMarketHeader h;
  banner >> tag >> object >> h.format >> h.field >> h.symmetry;
  if (tag != "%%MatrixMarket" || lowercase(object) != "matrix")
    throw_mm("a '%%MatrixMarket matrix ...' banner", concat("'", line.substr(0, 80), "'"), line_no);
  h.format = lowercase(h.format), h.field = lowercase(h.field), h.symmetry = lowercase(h.symmetry);
  if (h.format != "coordinate" && h.format != "array")
    throw_mm("format 'coordinate' or 'array'", concat("'", h.format, "'"), line_no);
  if (h.field != "real" && h.field != "integer" && h.field != "pattern" && h.field != "double")
    throw_mm("field 'real', 'integer' or 'pattern'", concat("'", h.field, "'"), line_no);
  if (h.symmetry != "general" && h.symmetry != "symmetric" && h.symmetry != "skew-symmetric")
    throw_mm("symmetry 'general', 'symmetric' or 'skew-symmetric'", concat("'", h.symmetry, "'"),
             line_no);
  if (h.format == "array" && h.field == "pattern")
    throw_mm("a numeric field for an array file", "'pattern'", line_no);
  return h;
}

/// Next line that is neither a comment nor blank, as a stream.
inline bool next_data_line(std::istream& in, std::istringstream& out, long& line_no) {
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '%') continue;
    out.clear();
    out.str(line);
    return true;
  }
  return false;
}

template <class T>
T read_field(std::istringstream& line, const char* what, long line_no) {
  T value{};
  if (!(line >> value)) throw_mm(concat("a ", what), "a missing or malformed value", line_no);
  return value;
}

/// A value as Scalar; one beyond Scalar's range (1e300 for float) is an error, not a silent
/// (and, for the conversion, undefined) overflow.
template <class Scalar>
Scalar read_value(std::istringstream& line, long line_no) {
  const auto value = read_field<double>(line, "value", line_no);
  using Real = typename Eigen::NumTraits<Scalar>::Real;
  if (std::abs(value) > static_cast<double>(std::numeric_limits<Real>::max()))
    throw_mm("a value within the range of the scalar type", concat(value), line_no);
  return Scalar(static_cast<Real>(value));
}

}  // namespace detail

/// Reads a Matrix Market `coordinate` matrix. Symmetric and skew-symmetric files are expanded
/// to both triangles; pattern files get the value 1 for every entry.
template <class Scalar, class StorageIndex = int>
CooMatrix<Scalar, StorageIndex> read_matrix_market(std::istream& in) {
  using detail::concat;
  long line_no = 0;
  const auto h = detail::read_mm_header(in, line_no);
  if (h.format != "coordinate")
    detail::throw_mm("a 'coordinate' (sparse) file", "an 'array' file", line_no);
  std::istringstream line;
  if (!detail::next_data_line(in, line, line_no))
    detail::throw_mm("a size line", "end of file", line_no);
  const auto rows = detail::read_field<long long>(line, "row count", line_no);
  const auto cols = detail::read_field<long long>(line, "column count", line_no);
  const auto entries = detail::read_field<long long>(line, "entry count", line_no);
  const auto max_index = static_cast<long long>(std::numeric_limits<StorageIndex>::max());
  if (rows < 0 || cols < 0 || entries < 0 || rows > max_index || cols > max_index)
    detail::throw_mm(concat("sizes in [0, ", max_index, "]"), concat(rows, " ", cols, " ", entries),
                     line_no);

  std::vector<StorageIndex> row, col;
  std::vector<Scalar> values;
  const bool mirrored = h.symmetry != "general";
  // A mirrored entry (j, i) is only in range for a square matrix (found by fuzz_matrix_market).
  if (mirrored && rows != cols)
    detail::throw_mm(concat("a square matrix for symmetry '", h.symmetry, "'"),
                     concat(rows, "x", cols), line_no);
  // The entry count is untrusted: reserve at most what a few MB hold.
  const auto reserve = static_cast<std::size_t>(std::min<long long>(entries, 1 << 20));
  row.reserve(reserve), col.reserve(reserve), values.reserve(reserve);
  for (long long e = 0; e < entries; ++e) {
    if (!detail::next_data_line(in, line, line_no))
      detail::throw_mm(concat(entries, " entries"), concat("end of file after ", e), line_no);
    const auto i = detail::read_field<long long>(line, "row index", line_no);
    const auto j = detail::read_field<long long>(line, "column index", line_no);
    if (i < 1 || i > rows || j < 1 || j > cols)
      detail::throw_mm(concat("1-based indices within ", rows, "x", cols), concat(i, " ", j),
                       line_no);
    const Scalar value =
        h.field == "pattern" ? Scalar(1) : detail::read_value<Scalar>(line, line_no);
    row.push_back(static_cast<StorageIndex>(i - 1));
    col.push_back(static_cast<StorageIndex>(j - 1));
    values.push_back(value);
    if (mirrored && i != j) {
      row.push_back(static_cast<StorageIndex>(j - 1));
      col.push_back(static_cast<StorageIndex>(i - 1));
      values.push_back(h.symmetry == "skew-symmetric" ? Scalar(-value) : value);
    }
  }
  CooMatrix<Scalar, StorageIndex> A;
  A.rows = rows, A.cols = cols;
  A.row = Eigen::Map<const Eigen::Matrix<StorageIndex, Eigen::Dynamic, 1>>(
      row.data(), static_cast<Eigen::Index>(row.size()));
  A.col = Eigen::Map<const Eigen::Matrix<StorageIndex, Eigen::Dynamic, 1>>(
      col.data(), static_cast<Eigen::Index>(col.size()));
  A.values = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(
      values.data(), static_cast<Eigen::Index>(values.size()));
  return A;
}

/// Reads a Matrix Market `array` (dense, column-major) file, general symmetry.
template <class Scalar>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> read_dense_matrix_market(std::istream& in) {
  using detail::concat;
  long line_no = 0;
  const auto h = detail::read_mm_header(in, line_no);
  if (h.format != "array" || h.symmetry != "general")
    detail::throw_mm("a general 'array' (dense) file", concat("'", h.format, " ", h.symmetry, "'"),
                     line_no);
  std::istringstream line;
  if (!detail::next_data_line(in, line, line_no))
    detail::throw_mm("a size line", "end of file", line_no);
  const auto rows = detail::read_field<long long>(line, "row count", line_no);
  const auto cols = detail::read_field<long long>(line, "column count", line_no);
  constexpr long long max_entries = 1LL << 40;
  if (rows < 0 || cols < 0 || rows > max_entries || cols > max_entries ||
      (cols > 0 && rows > max_entries / cols))
    detail::throw_mm("sizes >= 0 of at most 2^40 entries", concat(rows, " ", cols), line_no);
  // The sizes are untrusted: allocate as the values arrive (a few MB reserved at most), and
  // count values rather than columns so that a 0 x huge header does not loop.
  const long long count = rows * cols;
  std::vector<Scalar> values;
  values.reserve(static_cast<std::size_t>(std::min<long long>(count, 1 << 20)));
  for (long long e = 0; e < count; ++e) {
    if (!detail::next_data_line(in, line, line_no))
      detail::throw_mm(concat(count, " values"), concat("end of file after ", e), line_no);
    values.push_back(detail::read_value<Scalar>(line, line_no));
  }
  return Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>>(values.data(),
                                                                                 rows, cols);
}

namespace detail {
inline std::ifstream open_for_reading(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(concat("sparsegrad: cannot open '", path, "' for reading"));
  return in;
}
}  // namespace detail

/// Reads a Matrix Market `coordinate` file from disk.
template <class Scalar, class StorageIndex = int>
CooMatrix<Scalar, StorageIndex> read_matrix_market_file(const std::string& path) {
  auto in = detail::open_for_reading(path);
  return read_matrix_market<Scalar, StorageIndex>(in);
}

/// Reads a Matrix Market `array` file from disk.
template <class Scalar>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> read_dense_matrix_market_file(
    const std::string& path) {
  auto in = detail::open_for_reading(path);
  return read_dense_matrix_market<Scalar>(in);
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_IO_HPP
