// sparsegrad::gradcheck: passes on correct gradients in every format, finds a wrong one and says
// where, follows its options, and rejects bad entry lists.
#include <catch2/catch.hpp>
#include <sparsegrad/gradcheck.hpp>

#include "dense_reference.hpp"

using namespace testing;

namespace {

/// An Lsmr whose forward solution is off by a factor: the finite differences then see the
/// gradient of factor·X while lstsq_backward returns that of X.
struct WrongSolver {
  sparsegrad::LsmrOptions<double> options = tight<double>();
  sparsegrad::Lsmr<double> lsmr{tight<double>()};
  double factor = 1.01;
  template <class AType>
  Dense<double> operator()(const AType& A, const Dense<double>& B) {
    return factor * lsmr(A, B);
  }
  template <class AType>
  Dense<double> solve_normal(const AType& A, const Dense<double>& G) {
    return lsmr.solve_normal(A, G);
  }
};

}  // namespace

TEST_CASE("gradcheck passes on tall problems in every format of A", "[gradcheck]") {
  const auto A = random_sparse<double>(40, 15, 3, 1);
  const Dense<double> B = random_dense<double>(40, 2, 2), dX = random_dense<double>(15, 2, 3);
  sparsegrad::Lsmr<double> solver(tight<double>());
  const Csc<double> csc = A;
  // COO with every entry split into two duplicates
  const auto coo = split_entries(sparsegrad::to_coo(A), 0.25, 0.75);
  const Eigen::Map<const Csr<double>> map(A.rows(), A.cols(), A.nonZeros(), A.outerIndexPtr(),
                                          A.innerIndexPtr(), A.valuePtr());
  for (const auto& r :
       {sparsegrad::gradcheck(A, B, dX, solver), sparsegrad::gradcheck(csc, B, dX, solver),
        sparsegrad::gradcheck(coo, B, dX, solver), sparsegrad::gradcheck(map, B, dX, solver)}) {
    INFO("worst " << r.max_abs_where << ": " << r.max_abs_error << ", rel " << r.max_rel_error
                  << " at " << r.max_rel_where);
    CHECK(r.entries.size() == 40);  // 20 of A, 20 of B
    CHECK(r.scaled_error() <= 1e-6);
    CHECK(r.passed(1e-7, 1e-5));
    CHECK(r.max_numeric > 0);
  }
}

TEST_CASE("gradcheck with default LSMR on a vector B", "[gradcheck]") {
  const auto A = random_sparse<double>(30, 10, 3, 4);
  const Eigen::VectorXd b = random_dense<double>(30, 1, 5).col(0);
  const Eigen::VectorXd dx = random_dense<double>(10, 1, 6).col(0);
  const auto r = sparsegrad::gradcheck(A, b, dx);
  CHECK(r.scaled_error() <= 1e-6);
  CHECK(r.entries.size() == 20 + 20);
}

TEST_CASE("gradcheck finds a wrong gradient and says where", "[gradcheck]") {
  const auto A = random_sparse<double>(30, 10, 3, 7);
  const Dense<double> B = random_dense<double>(30, 1, 8), dX = random_dense<double>(10, 1, 9);
  WrongSolver wrong;
  const auto r = sparsegrad::gradcheck(A, B, dX, wrong);
  CHECK(r.scaled_error() > 1e-3);
  CHECK_FALSE(r.passed(1e-6, 1e-4));
  CHECK_THAT(r.max_abs_where, Catch::StartsWith("A entry ") || Catch::StartsWith("B("));
  // the entry it names has the error it reports
  const auto worst = std::find_if(r.entries.begin(), r.entries.end(),
                                  [&](const auto& e) { return e.where == r.max_abs_where; });
  REQUIRE(worst != r.entries.end());
  CHECK(worst->abs_error == r.max_abs_error);
  CHECK(std::abs(worst->analytic - worst->numeric) == Approx(r.max_abs_error));
  wrong.factor = 1;
  CHECK(sparsegrad::gradcheck(A, B, dX, wrong).scaled_error() <= 1e-6);
}

TEST_CASE("gradcheck checks exactly the entries it is given", "[gradcheck]") {
  const auto A = random_sparse<double>(25, 8, 2, 10);
  const Dense<double> B = random_dense<double>(25, 2, 11), dX = random_dense<double>(8, 2, 12);
  sparsegrad::Lsmr<double> solver(tight<double>());
  sparsegrad::GradcheckOptions opt;
  opt.a_entries = {0, 3, A.nonZeros() - 1};
  opt.b_entries = {{0, 0}, {24, 1}};
  const auto r = sparsegrad::gradcheck(A, B, dX, solver, opt);
  REQUIRE(r.entries.size() == 5);
  Eigen::Index i = 0, j = 0;
  for (Eigen::Index o = 0, e = 0; o < A.outerSize(); ++o)
    for (Csr<double>::InnerIterator it(A, o); it; ++it, ++e)
      if (e == 3) i = it.row(), j = it.col();
  CHECK(r.entries[1].where == "A entry 3 (" + std::to_string(i) + ", " + std::to_string(j) + ")");
  CHECK(r.entries[4].where == "B(24, 1)");
  // analytic values are those of lstsq_backward
  const Dense<double> X = sparsegrad::lstsq(A, B, solver);
  const auto g = sparsegrad::lstsq_backward(A, B, X, dX, solver);
  CHECK(r.entries[4].analytic.real() == Approx(g.B(24, 1)).epsilon(1e-12));
  CHECK(r.entries[1].analytic.real() == Approx(g.A.valuePtr()[3]).epsilon(1e-12));
  CHECK(r.scaled_error() <= 1e-6);
  // the whole of a small A when max_entries is large
  opt.a_entries.clear(), opt.b_entries.clear();
  opt.max_entries = 1000;
  CHECK(sparsegrad::gradcheck(A, B, dX, solver, opt).entries.size() ==
        std::size_t(A.nonZeros() + B.size()));
}

TEST_CASE("gradcheck rejects entries out of range", "[gradcheck][errors]") {
  const auto A = random_sparse<double>(12, 4, 2, 13);
  const Dense<double> B = random_dense<double>(12, 1, 1), dX = random_dense<double>(4, 1, 2);
  sparsegrad::GradcheckOptions opt;
  opt.a_entries = {A.nonZeros()};
  CHECK_THROWS_WITH(sparsegrad::gradcheck(A, B, dX, opt),
                    Catch::Contains("argument 'options.a_entries'") &&
                        Catch::Contains("got " + std::to_string(A.nonZeros())));
  opt.a_entries = {0};
  opt.b_entries = {{12, 0}};
  CHECK_THROWS_AS(sparsegrad::gradcheck(A, B, dX, opt), std::invalid_argument);
  const Dense<double> bad = random_dense<double>(5, 1, 3);
  CHECK_THROWS_WITH(sparsegrad::gradcheck(A, B, bad), Catch::Contains("argument 'dX'"));
}
