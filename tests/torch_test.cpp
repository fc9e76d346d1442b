// Tests of include/sparsegrad/torch.hpp: forward against a dense LibTorch least-squares solve,
// backward against the dense adjoint formula evaluated with ATen, for COO (coalesced and not)
// and CSR, float and double; solver pass-through, errors. One translation unit: LibTorch's
// headers are slow to compile.
#include <torch/csrc/autograd/autograd.h>

#include <sparsegrad/backends/torch.hpp>
// LibTorch brings glog, whose CHECK would abort instead of reporting: Catch's CHECK is wanted.
#undef CHECK
#include <Eigen/Dense>
#include <catch2/catch.hpp>

namespace {

template <class Scalar>
at::ScalarType dtype() {
  return std::is_same<Scalar, float>::value ? at::kFloat : at::kDouble;
}

/// Dense m x n matrix with ~25% nonzeros and a strong "diagonal": full column rank.
at::Tensor random_dense(int64_t m, int64_t n, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor D = at::randn({m, n}, gen, at::kDouble) * (at::rand({m, n}, gen, at::kDouble) < 0.25);
  for (int64_t j = 0; j < n; ++j) D[j % m][j] += 3.0;
  return D;
}

/// Dense references for L = <dX, X>: X by least squares, dA = -dB Xᵀ - r Hᵀ, dB = A H with
/// H = (AᵀA)⁻¹dX (all dense, in double).
struct Reference {
  at::Tensor X, dA, dB;
};
Reference dense_reference(const at::Tensor& D, const at::Tensor& B2, const at::Tensor& dX2) {
  Reference ref;
  ref.X = std::get<0>(at::linalg_lstsq(D, B2));
  const at::Tensor H = at::linalg_solve(D.t().mm(D), dX2);
  ref.dB = D.mm(H);
  const at::Tensor r = D.mm(ref.X) - B2;
  ref.dA = -ref.dB.mm(ref.X.t()) - r.mm(H.t());
  return ref;
}

/// dense[i, j] at a sparse tensor's stored entries, in its entry order.
at::Tensor at_pattern(const at::Tensor& A, const at::Tensor& dense) {
  at::Tensor row, col;
  if (A.layout() == at::kSparseCsr) {
    const at::Tensor crow = A.crow_indices();
    row = at::repeat_interleave(at::arange(A.size(0), at::kLong),
                                crow.narrow(0, 1, A.size(0)) - crow.narrow(0, 0, A.size(0)));
    col = A.col_indices();
  } else {
    row = A._indices()[0];
    col = A._indices()[1];
  }
  return dense.index({row, col});
}

at::Tensor stored_values(const at::Tensor& A) {
  return A.layout() == at::kSparseCsr ? A.values() : A._values();
}

/// Dense copy of the Eigen view a solver functor receives (CSR map or COO matrix).
template <class Scalar, class Index>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> dense_of(
    const sparsegrad::CooMatrix<Scalar, Index>& A) {
  return sparsegrad::to_csr(A).toDense();
}
template <class Derived>
Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> dense_of(
    const Eigen::SparseMatrixBase<Derived>& A) {
  return A.derived().toDense();
}

bool close(const at::Tensor& a, const at::Tensor& b, double tol) {
  return at::allclose(a.to(at::kDouble), b.to(at::kDouble), tol, tol);
}

sparsegrad::LsmrOptions<double> tight() {
  sparsegrad::LsmrOptions<double> o;
  o.atol = o.btol = 1e-14;
  o.conlim = 1e12;
  o.maxiter = 1000;
  return o;
}

}  // namespace

TEMPLATE_TEST_CASE("torch_lstsq: forward and backward against dense references", "[torch]", float,
                   double) {
  const double tol = std::is_same<TestType, float>::value ? 2e-3 : 1e-8;
  sparsegrad::LsmrOptions<double> opt = tight();
  if (std::is_same<TestType, float>::value) opt.atol = opt.btol = 1e-6;
  const at::Tensor D = random_dense(30, 12, 1);
  const auto layout = GENERATE(as<std::string>{}, "coo", "coo-uncoalesced", "csr");
  const int64_t k = GENERATE(0, 1, 3);  // 0: vector B
  INFO("layout " << layout << ", k " << k);

  at::Tensor A = D.to_sparse().coalesce().to(dtype<TestType>());
  if (layout == "csr") A = A.to_sparse_csr();
  if (layout == "coo-uncoalesced") {
    // The same matrix with every entry split into two halves, the halves in reverse order.
    const at::Tensor idx = A._indices(), val = A._values();
    A = at::_sparse_coo_tensor_unsafe(at::cat({idx, idx.flip(1)}, 1),
                                      at::cat({val / 2, val.flip(0) / 2}), A.sizes());
    REQUIRE_FALSE(A.is_coalesced());
  }
  A.requires_grad_(true);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  at::Tensor B = (k == 0 ? at::randn({30}, gen, at::kDouble) : at::randn({30, k}, gen, at::kDouble))
                     .to(dtype<TestType>())
                     .requires_grad_(true);

  const at::Tensor X = sparsegrad::torch_lstsq(A, B, opt);
  REQUIRE(X.scalar_type() == dtype<TestType>());
  REQUIRE(X.sizes() == (k == 0 ? std::vector<int64_t>{12} : std::vector<int64_t>{12, k}));

  const at::Tensor w = at::linspace(-1, 1, X.numel(), at::kDouble).reshape(X.sizes());
  (X * w.to(X.scalar_type())).sum().backward();

  const Reference ref =
      dense_reference(D, B.detach().to(at::kDouble).reshape({30, -1}), w.reshape({12, -1}));
  CHECK(close(X.reshape({12, -1}), ref.X, tol));
  CHECK(B.grad().layout() == at::kStrided);
  CHECK(close(B.grad().reshape({30, -1}), ref.dB, 10 * tol));

  const at::Tensor gA = A.grad();
  REQUIRE(gA.defined());
  CHECK(gA.layout() == A.layout());
  if (layout == "csr") {
    CHECK(at::equal(gA.crow_indices(), A.detach().crow_indices()));
    CHECK(at::equal(gA.col_indices(), A.detach().col_indices()));
    // The function's own gradient shares A's index tensors (A.grad may be a copy made by
    // torch's gradient accumulation).
    const at::Tensor X2 = sparsegrad::torch_lstsq(A, B, opt);
    const auto g = torch::autograd::grad({(X2 * w.to(X2.scalar_type())).sum()}, {A});
    CHECK(g[0].crow_indices().data_ptr() == A.detach().crow_indices().data_ptr());
    CHECK(g[0].col_indices().data_ptr() == A.detach().col_indices().data_ptr());
  } else {
    CHECK(at::equal(gA._indices(), A.detach()._indices()));
  }
  // As a tensor the gradient is dL/dA (the halves of an uncoalesced entry add up to it).
  const at::Tensor gc = layout == "csr" ? gA.to_dense() : gA.coalesce().to_dense();
  CHECK(close(at_pattern(A.detach(), gc), at_pattern(A.detach(), ref.dA), 10 * tol));
  if (layout != "coo-uncoalesced")
    CHECK(close(stored_values(gA), at_pattern(A.detach(), ref.dA), 10 * tol));
}

TEST_CASE("torch_lstsq: solver functors pass through to both passes", "[torch]") {
  const at::Tensor D = random_dense(20, 6, 3);
  at::Tensor A = D.to_sparse_csr().requires_grad_(true);
  at::Tensor B = at::cos(at::arange(20, at::kDouble)).reshape({20, 1}).requires_grad_(true);

  SECTION("a generic functor and a transpose functor (the seed's two-solve form)") {
    auto calls = std::make_shared<std::vector<std::string>>();
    auto dense_solver = [calls](const auto& Ae, const auto& rhs) {
      calls->push_back("solver");
      using Scalar = typename std::decay_t<decltype(rhs)>::Scalar;
      const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> Ad = dense_of(Ae);
      return Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>(
          Ad.colPivHouseholderQr().solve(rhs));
    };
    auto transpose_solver = [calls](const auto& Ae, const auto& G) {
      calls->push_back("transpose");
      using Scalar = typename std::decay_t<decltype(G)>::Scalar;
      const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> At = dense_of(Ae).transpose();
      return Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>(
          At.completeOrthogonalDecomposition().solve(G));
    };
    const at::Tensor X = sparsegrad::torch_lstsq(A, B, dense_solver, transpose_solver);
    X.sum().backward();
    CHECK((*calls == std::vector<std::string>{"solver", "transpose", "solver"}));
    const Reference ref = dense_reference(D, B.detach(), at::ones({6, 1}, at::kDouble));
    CHECK(close(X, ref.X, 1e-10));
    CHECK(close(B.grad(), ref.dB, 1e-9));
    CHECK(close(A.grad().values(), at_pattern(A.detach(), ref.dA), 1e-9));
  }

  SECTION("a Lsmr<double> object: its options are used") {
    sparsegrad::LsmrOptions<double> o;
    o.maxiter = 1;
    CHECK_THROWS_AS(sparsegrad::torch_lstsq(A, B, sparsegrad::Lsmr<double>(o)),
                    sparsegrad::convergence_error);
    CHECK_THROWS_AS(sparsegrad::torch_lstsq(A, B, o), sparsegrad::convergence_error);
    // ... and it refuses float tensors instead of failing to compile.
    CHECK_THROWS_AS(sparsegrad::torch_lstsq(A.detach().to(at::kFloat), B.detach().to(at::kFloat),
                                            sparsegrad::Lsmr<double>()),
                    std::invalid_argument);
  }
}

TEST_CASE("torch_lstsq: errors", "[torch]") {
  const at::Tensor D = random_dense(10, 4, 5);
  const at::Tensor A = D.to_sparse();
  const at::Tensor B = at::ones({10}, at::kDouble);
  CHECK_THROWS_WITH(sparsegrad::torch_lstsq(D, B),
                    Catch::Contains("argument 'A': expected a sparse COO or CSR tensor"));
  CHECK_THROWS_AS(sparsegrad::torch_lstsq(A.to(at::kInt), B), std::invalid_argument);
  CHECK_THROWS_WITH(sparsegrad::torch_lstsq(A, B.narrow(0, 0, 9)), Catch::Contains("argument 'B'"));
  CHECK_THROWS_AS(sparsegrad::torch_lstsq(A, B.to(at::kFloat)), std::invalid_argument);
  CHECK_THROWS_AS(sparsegrad::torch_lstsq(A, B.to_sparse()), std::invalid_argument);
  // Wide A: forward gives a least-norm solution of the consistent system.
  const at::Tensor W = random_dense(4, 10, 6).to_sparse();
  const at::Tensor Xw = sparsegrad::torch_lstsq(W, at::ones({4}, at::kDouble), tight());
  CHECK(close(W.to_dense().mv(Xw), at::ones({4}, at::kDouble), 1e-9));
  // Rank-deficient tall A: backward throws std::domain_error.
  at::Tensor R = random_dense(12, 4, 8);
  R.select(1, 3).copy_(R.select(1, 2));
  at::Tensor Rs = R.to_sparse().requires_grad_(true);
  auto unchecked = tight();
  unchecked.throw_on_failure = false;  // LSMR may stop on the condition limit here
  const at::Tensor Xr = sparsegrad::torch_lstsq(Rs, at::ones({12}, at::kDouble), unchecked);
  CHECK_THROWS_AS((Xr * at::arange(4, at::kDouble)).sum().backward(), std::domain_error);
}
