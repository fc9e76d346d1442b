// CooMatrix: validation and conversions.
#include <catch2/catch.hpp>
#include <sparsegrad/coo.hpp>

#include "test_support.hpp"

using namespace testing;

namespace {
sparsegrad::CooMatrix<double> small_coo() {
  sparsegrad::CooMatrix<double> A;
  A.rows = 3, A.cols = 2;
  A.row.resize(4), A.col.resize(4), A.values.resize(4);
  A.row << 2, 0, 2, 1;
  A.col << 1, 0, 1, 0;
  A.values << 1.5, 2.0, 0.5, -1.0;  // (2, 1) appears twice: 1.5 + 0.5
  return A;
}
}  // namespace

TEST_CASE("to_csr and to_csc sum duplicates and keep every value", "[coo]") {
  const auto A = small_coo();
  Dense<double> expected = Dense<double>::Zero(3, 2);
  expected(0, 0) = 2.0, expected(1, 0) = -1.0, expected(2, 1) = 2.0;
  CHECK(Dense<double>(sparsegrad::to_csr(A).toDense()) == expected);
  CHECK(Dense<double>(sparsegrad::to_csc(A).toDense()) == expected);
  CHECK(sparsegrad::to_csr(A).nonZeros() == 3);
  CHECK(dense(A) == expected);
}

TEMPLATE_TEST_CASE("to_coo lists the entries in storage order", "[coo]", float, double) {
  const auto S = random_sparse<TestType>(20, 7, 2, 4);
  const auto C = sparsegrad::to_coo(S);
  REQUIRE(C.nonZeros() == S.nonZeros());
  CHECK(C.rows == 20);
  CHECK(C.cols == 7);
  CHECK(pattern_of(S).size() == std::size_t(C.nonZeros()));
  const auto pattern = pattern_of(S);
  for (Eigen::Index e = 0; e < C.nonZeros(); ++e) {
    CHECK(C.row[e] == pattern[std::size_t(e)].first);
    CHECK(C.col[e] == pattern[std::size_t(e)].second);
  }
  CHECK(Dense<TestType>(sparsegrad::to_csr(C).toDense()) == Dense<TestType>(S.toDense()));
}

TEST_CASE("validate accepts good COO and names what is wrong otherwise", "[coo]") {
  CHECK_NOTHROW(sparsegrad::validate(small_coo()));
  auto bad = small_coo();
  bad.row[2] = 3;
  CHECK_THROWS_WITH(sparsegrad::validate(bad), Catch::Contains("argument 'A'") &&
                                                   Catch::Contains("row indices in [0, 3)") &&
                                                   Catch::Contains("row[2] = 3"));
  bad = small_coo();
  bad.col[1] = -1;
  CHECK_THROWS_WITH(sparsegrad::validate(bad), Catch::Contains("col[1] = -1"));
  bad = small_coo();
  bad.values.resize(3);
  CHECK_THROWS_WITH(sparsegrad::validate(bad), Catch::Contains("row: 4, col: 4, values: 3"));
  bad = small_coo();
  bad.rows = -2;
  CHECK_THROWS_AS(sparsegrad::validate(bad), std::invalid_argument);
  bad = small_coo();
  bad.values[0] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(sparsegrad::validate(bad),
                    Catch::Contains("finite values") && Catch::Contains("entry 0"));
}

TEST_CASE("64-bit storage indices", "[coo]") {
  sparsegrad::CooMatrix<double, std::int64_t> A;
  A.rows = 4, A.cols = 2;
  A.row.resize(3), A.col.resize(3), A.values.resize(3);
  A.row << 0, 3, 1;
  A.col << 0, 1, 1;
  A.values << 1, 2, 3;
  const auto csr = sparsegrad::to_csr(A);
  static_assert(std::is_same<decltype(csr)::StorageIndex, std::int64_t>::value, "index type kept");
  CHECK(csr.coeff(3, 1) == 2);
  CHECK(sparsegrad::to_coo(csr).nonZeros() == 3);
}
