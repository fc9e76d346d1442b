// Matrix Market reading.
#include <catch2/catch.hpp>
#include <sparsegrad/io.hpp>
#include <sstream>

#include "test_support.hpp"

using namespace testing;

namespace {
template <class Scalar = double>
sparsegrad::CooMatrix<Scalar> parse(const std::string& text) {
  std::istringstream in(text);
  return sparsegrad::read_matrix_market<Scalar>(in);
}
}  // namespace

TEST_CASE("coordinate files: general, symmetric, skew-symmetric, pattern", "[io]") {
  const auto G = parse(
      "%%MatrixMarket matrix coordinate real general\n% comment\n\n3 2 3\n1 1 1.5\n3 2 -2e-3\n2 1 "
      "4\n");
  Dense<double> expected = Dense<double>::Zero(3, 2);
  expected(0, 0) = 1.5, expected(2, 1) = -2e-3, expected(1, 0) = 4;
  CHECK(dense(G) == expected);

  const auto S = parse("%%MatrixMarket matrix coordinate real symmetric\n2 2 2\n1 1 3\n2 1 5\n");
  CHECK(S.nonZeros() == 3);
  CHECK(dense(S)(0, 1) == 5);
  CHECK(dense(S)(1, 0) == 5);

  const auto K = parse("%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 5\n");
  CHECK(dense(K)(0, 1) == -5);

  const auto P =
      parse<float>("%%MatrixMarket matrix coordinate pattern general\n2 2 2\n1 2\n2 1\n");
  CHECK(P.values.sum() == 2.0f);
}

TEST_CASE("array files", "[io]") {
  std::istringstream in("%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n");
  const auto M = sparsegrad::read_dense_matrix_market<double>(in);
  CHECK(M(0, 0) == 1);
  CHECK(M(1, 0) == 2);
  CHECK(M(0, 1) == 3);
}

TEST_CASE("malformed files name the line and what was expected", "[io]") {
  CHECK_THROWS_WITH(parse("not a banner\n"),
                    Catch::Contains("MatrixMarket") && Catch::Contains("line 1"));
  CHECK_THROWS_WITH(parse("%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n"),
                    Catch::Contains("field"));
  CHECK_THROWS_WITH(parse("%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1\n"),
                    Catch::Contains("1-based indices within 2x2") && Catch::Contains("line 3"));
  CHECK_THROWS_WITH(parse("%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n"),
                    Catch::Contains("2 entries"));
  CHECK_THROWS_WITH(parse("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 x\n"),
                    Catch::Contains("value"));
  CHECK_THROWS_AS(parse("%%MatrixMarket matrix coordinate real general\n-2 2 1\n"),
                  std::invalid_argument);
  CHECK_THROWS_AS(sparsegrad::read_matrix_market_file<double>("/nonexistent.mtx"),
                  std::runtime_error);
}

TEST_CASE("the shipped matrices have the sizes their source note gives", "[io][data]") {
  struct Expect {
    const char* name;
    long m, n, nnz;
  };
  // data/lsq/SOURCES.md
  for (auto e :
       {Expect{"abb313.mtx", 313, 176, 1557}, Expect{"ash219.mtx", 219, 85, 438},
        Expect{"Franz6.mtx", 7576, 3016, 45456}, Expect{"illc1033.mtx", 1033, 320, 4732},
        Expect{"lp_afiro_T.mtx", 51, 27, 102}, Expect{"lp_e226_T.mtx", 472, 223, 2768},
        Expect{"well1033.mtx", 1033, 320, 4732}, Expect{"well1850.mtx", 1850, 712, 8758}}) {
    const auto A = sparsegrad::read_matrix_market_file<double>(data_path(e.name));
    INFO(e.name);
    CHECK(A.rows == e.m);
    CHECK(A.cols == e.n);
    CHECK(A.nonZeros() == e.nnz);
  }
}

TEST_CASE("Matrix Market: untrusted sizes and out-of-range values are argument errors",
          "[errors][io]") {
  auto dense = [](const std::string& text) {
    std::istringstream in(text);
    return sparsegrad::read_dense_matrix_market<double>(in);
  };
  // Regression: a header promising 2^40 values once allocated them all up front
  // (std::bad_alloc), and a 0 x 2^62 header looped over the columns for ever.
  CHECK_THROWS_WITH(dense("%%MatrixMarket matrix array real general\n1048576 1048576\n1\n2\n"),
                    Catch::Contains("end of file after 2"));
  CHECK_THROWS_AS(dense("%%MatrixMarket matrix array real general\n0 4611686018427387904\n"),
                  std::invalid_argument);
  CHECK(dense("%%MatrixMarket matrix array real general\n0 3\n").cols() == 3);
  CHECK(dense("%%MatrixMarket matrix array real general\n2 1\n1.5\n-2\n") ==
        Eigen::Vector2d(1.5, -2));
  // A value beyond float's range read as float is an error, not an (undefined) conversion.
  std::istringstream big("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2 1e300\n");
  CHECK_THROWS_WITH(sparsegrad::read_matrix_market<float>(big),
                    Catch::Contains("expected a value within the range of the scalar type"));
  std::istringstream fine("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2 1e300\n");
  CHECK(sparsegrad::read_matrix_market<double>(fine).values[0] == 1e300);
  // Found by fuzz_matrix_market: a symmetric 3 x 4 file mirrored (1, 4) to row index 3 of 3.
  std::istringstream wide_symmetric(
      "%%MatrixMarket matrix coordinate real symmetric\n3 4 1\n1 4 2.5\n");
  CHECK_THROWS_WITH(sparsegrad::read_matrix_market<double>(wide_symmetric),
                    Catch::Contains("expected a square matrix for symmetry 'symmetric'") &&
                        Catch::Contains("got 3x4"));
}
