// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_BACKENDS_PETSC_HPP
#define SPARSEGRAD_BACKENDS_PETSC_HPP

/// \file petsc.hpp
/// lstsq and lstsq_backward on PETSc: A is a distributed `Mat` (rows split across MPI ranks),
/// B, X and the gradients are distributed `Vec`s. Optional: needs PETSc and MPI (CMake option
/// SPARSEGRAD_WITH_PETSC, target sparsegrad::petsc).
///
/// - `MatOperator` is the operator concept of operator.hpp over a Mat (MatMult /
///   MatMultTranspose), and `detail::VecSpace` the vector-space policy of the Krylov kernels over
///   Vecs. `petsc::lsmr` and the functor `petsc::Lsmr` run the one LSMR kernel of lsmr.hpp
///   (`detail::lsmr_kernel`) on them: the same algorithm and stopping rules as the serial
///   library. Every scalar the kernel branches on is a global reduction (VecNorm), so all ranks
///   take the same decisions.
/// - `petsc::KspLsqr` is PETSc's own KSPLSQR (with any of its preconditioners) as a solver
///   functor.
/// - `petsc::lstsq(A, b, solver)` / `petsc::lstsq_backward(A, b, x, dx, solver)` mirror the
///   serial calls: dB comes back distributed like B, dA as a Mat with A's layout and nonzero
///   pattern, holding dL/dA_ij on each rank's own rows. The entries of X and H that a rank's
///   rows touch are gathered with one VecScatter (the ghost exchange of MatMult); nothing is
///   collected on one rank.
///
/// Requirements: a real, double-precision PETSc (Debian's petsc-dev is real double with 32-bit
/// PetscInt: global sizes up to 2^31 − 1 rows, columns and nonzeros per rank; sizes are checked,
/// never truncated). Errors are collective: every check whose outcome could differ between ranks
/// is reduced first, so all ranks throw the same exception. All objects must be destroyed before
/// PetscFinalize.

#include <petscksp.h>
#include <petscmat.h>
#include <petscvec.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../adjoint.hpp"
#include "../coo.hpp"
#include "../detail/checks.hpp"
#include "../errors.hpp"
#include "../krylov/craig.hpp"
#include "../krylov/lsmr.hpp"
#include "../operator.hpp"
#include "../solvers/concept.hpp"

namespace sparsegrad {
namespace petsc {

static_assert(std::is_same<PetscScalar, double>::value && std::is_same<PetscReal, double>::value,
              "sparsegrad/petsc.hpp needs a real double-precision PETSc build (Debian's "
              "petsc-dev, i.e. PETSC_ARCH x86_64-linux-gnu-real, is one)");

namespace detail {
using sparsegrad::detail::concat;

/// Throws solver_error for a failed PETSc call (PETSc has already printed its traceback).
inline void check(PetscErrorCode code, const char* call) {
  if (code == 0) return;
  const char* text = nullptr;
  PetscErrorMessage(code, &text, nullptr);
  throw solver_error(concat("sparsegrad: PETSc: ", call, " failed with error ", int(code), " (",
                            text ? text : "unknown", ")"));
}

/// True on every rank when `local` holds on every rank (one MPI_Allreduce).
inline bool on_all_ranks(MPI_Comm comm, bool local) {
  int value = local ? 1 : 0, all = 0;
  MPI_Allreduce(&value, &all, 1, MPI_INT, MPI_MIN, comm);
  return all == 1;
}

/// Eigen::Index -> PetscInt, refusing values PetscInt cannot hold (32-bit on Debian).
inline PetscInt to_petsc_int(Eigen::Index value, const char* where, const char* name) {
  if (value < 0 || value > Eigen::Index(PETSC_MAX_INT))
    sparsegrad::detail::throw_invalid(where, name,
                                      concat("a size in [0, ", PETSC_MAX_INT, "] (PetscInt is ",
                                             8 * sizeof(PetscInt), "-bit in this PETSc build)"),
                                      concat(value));
  return PetscInt(value);
}

inline MPI_Comm comm_of(PetscObject object) {
  return PetscObjectComm(object);
}
}  // namespace detail

/// Owning handle of a PETSc object (Vec, Mat, ...): destroys it when it goes out of scope.
/// Converts implicitly to the raw handle, so it can be passed to PETSc functions directly.
template <class Handle, PetscErrorCode (*Destroy)(Handle*)>
class Owned {
 public:
  Owned() = default;
  /// Takes ownership of `h` (no reference is added).
  explicit Owned(Handle h) : h_(h) {}
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  Owned(Owned&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Owned& operator=(Owned&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~Owned() {
    if (h_) Destroy(&h_);
  }
  Handle get() const { return h_; }
  operator Handle() const { return h_; }
  /// Gives up ownership; the caller destroys the object.
  Handle release() { return std::exchange(h_, nullptr); }
  /// Address for PETSc's output arguments (destroys what it held first).
  Handle* out() {
    if (h_) Destroy(&h_);
    return &h_;
  }

 private:
  Handle h_ = nullptr;
};

using Vector = Owned<Vec, VecDestroy>;  ///< owning Vec
using Matrix = Owned<Mat, MatDestroy>;  ///< owning Mat

/// k distributed vectors of one layout (one per right-hand side): the block type of the Krylov
/// kernels and of the solver functors (B in, X out). Copies are deep. A null entry stands for a
/// zero vector whose layout is not fixed yet: the kernels allocate workspace by global size
/// only, and such a vector takes its layout from the first vector it is combined with (or from
/// the operator that writes into it).
class VecBlock {
 public:
  VecBlock() = default;
  /// k zero vectors without a layout yet.
  explicit VecBlock(Eigen::Index k) : v_(static_cast<std::size_t>(k), nullptr) {}
  VecBlock(const VecBlock& o) : VecBlock(o.size()) {
    for (Eigen::Index j = 0; j < size(); ++j)
      if (o[j]) {
        detail::check(VecDuplicate(o[j], &at(j)), "VecDuplicate");
        detail::check(VecCopy(o[j], at(j)), "VecCopy");
      }
  }
  VecBlock(VecBlock&& o) noexcept : v_(std::move(o.v_)) { o.v_.clear(); }
  VecBlock& operator=(VecBlock o) noexcept {
    std::swap(v_, o.v_);
    return *this;
  }
  ~VecBlock() {
    for (Vec& v : v_)
      if (v) VecDestroy(&v);
  }

  /// A block holding new references to the given vectors (no copy of their values).
  static VecBlock referencing(const std::vector<Vec>& vectors) {
    VecBlock b(static_cast<Eigen::Index>(vectors.size()));
    for (std::size_t j = 0; j < vectors.size(); ++j) {
      if (vectors[j]) detail::check(PetscObjectReference(PetscObject(vectors[j])), "reference");
      b.v_[j] = vectors[j];
    }
    return b;
  }

  Eigen::Index size() const { return static_cast<Eigen::Index>(v_.size()); }
  Vec operator[](Eigen::Index j) const { return v_[static_cast<std::size_t>(j)]; }
  Vec& at(Eigen::Index j) { return v_[static_cast<std::size_t>(j)]; }
  /// Gives up ownership of vector j (the caller destroys it).
  Vec release(Eigen::Index j) { return std::exchange(at(j), nullptr); }

 private:
  std::vector<Vec> v_;
};

/// The first k vectors of a block, as passed to an operator (output).
struct BlockView {
  VecBlock* block;
  Eigen::Index k;
};

/// The first k vectors of a block, as passed to an operator (input).
struct ConstBlockView {
  const VecBlock* block;
  Eigen::Index k;
  ConstBlockView(const VecBlock* b, Eigen::Index k_) : block(b), k(k_) {}
  ConstBlockView(BlockView v) : block(v.block), k(v.k) {}
};

namespace detail {

inline void duplicate_zero(Vec like, Vec& out) {
  check(VecDuplicate(like, &out), "VecDuplicate");
  check(VecSet(out, 0.0), "VecSet");
}

/// The vector-space policy of the Krylov kernels (see detail/eigen_block.hpp) over PETSc Vecs.
/// norm() is VecNorm: a global reduction, collective over the vector's communicator.
struct VecSpace : sparsegrad::detail::UnfusedSteps<VecSpace> {
  using Scalar = PetscScalar;
  using Real = PetscReal;
  using Block = VecBlock;

  static Block zeros(Eigen::Index /*rows*/, Eigen::Index k) { return Block(k); }
  static BlockView active(Block& X, Eigen::Index k) { return {&X, k}; }

  static Real norm(const Block& X, Eigen::Index j) {
    Real r = 0;
    if (X[j]) check(VecNorm(X[j], NORM_2, &r), "VecNorm");
    return r;
  }
  static void scale(Block& X, Eigen::Index j, Real s) {
    if (X[j]) check(VecScale(X[j], s), "VecScale");
  }
  /// Y_j = X_i + a Y_j
  static void add_scaled_self(Block& Y, Eigen::Index j, Real a, const Block& X, Eigen::Index i) {
    if (!X[i]) return scale(Y, j, a);
    if (!Y[j]) duplicate_zero(X[i], Y.at(j));
    check(VecAYPX(Y.at(j), a, X[i]), "VecAYPX");
  }
  /// Y_j += a X_i
  static void axpy(Block& Y, Eigen::Index j, Real a, const Block& X, Eigen::Index i) {
    if (!X[i]) return;
    if (!Y[j]) duplicate_zero(X[i], Y.at(j));
    check(VecAXPY(Y.at(j), a, X[i]), "VecAXPY");
  }
  /// Y_j = X_i
  static void copy(Block& Y, Eigen::Index j, const Block& X, Eigen::Index i) {
    if (&Y == &X && i == j) return;
    if (!X[i]) return set_zero(Y, j);
    if (!Y[j]) check(VecDuplicate(X[i], &Y.at(j)), "VecDuplicate");
    check(VecCopy(X[i], Y.at(j)), "VecCopy");
  }
  static void set_zero(Block& X, Eigen::Index j) {
    if (X[j]) check(VecSet(X.at(j), 0.0), "VecSet");
  }
};

}  // namespace detail

/// A distributed PETSc Mat as the operator of operator.hpp: apply is MatMult (A·V), apply_adjoint
/// MatMultTranspose (Aᵀ·U), one column at a time, each with MatMult's own ghost exchange. Holds a
/// reference to the Mat. Output vectors without a layout get MatCreateVecs's.
class MatOperator {
 public:
  using Scalar = PetscScalar;

  explicit MatOperator(Mat A) : A_(A) {
    detail::check(PetscObjectReference(PetscObject(A)), "PetscObjectReference");
    PetscInt m = 0, n = 0;
    detail::check(MatGetSize(A, &m, &n), "MatGetSize");
    rows_ = m, cols_ = n;
  }
  MatOperator(const MatOperator& o) : MatOperator(o.A_.get()) {}
  MatOperator& operator=(const MatOperator&) = delete;

  Eigen::Index rows() const { return rows_; }
  Eigen::Index cols() const { return cols_; }
  Mat matrix() const { return A_; }

  void apply(ConstBlockView V, BlockView Y) const { product(V, Y, false); }
  void apply_adjoint(ConstBlockView U, BlockView Y) const { product(U, Y, true); }

 private:
  void product(ConstBlockView in, BlockView out, bool adjoint) const {
    for (Eigen::Index j = 0; j < in.k; ++j) {
      Vec& y = out.block->at(j);
      if (!y) {
        if (adjoint)
          detail::check(MatCreateVecs(A_, &y, nullptr), "MatCreateVecs");
        else
          detail::check(MatCreateVecs(A_, nullptr, &y), "MatCreateVecs");
      }
      const Vec x = (*in.block)[j];
      if (!x)
        detail::check(VecSet(y, 0.0), "VecSet");
      else if (adjoint)
        detail::check(MatMultTranspose(A_, x, y), "MatMultTranspose");
      else
        detail::check(MatMult(A_, x, y), "MatMult");
    }
  }

  Matrix A_;
  Eigen::Index rows_ = 0, cols_ = 0;
};

namespace detail {

/// Global and local sizes of a Mat.
struct Layout {
  PetscInt m = 0, n = 0, local_m = 0, local_n = 0;
  explicit Layout(Mat A) {
    check(MatGetSize(A, &m, &n), "MatGetSize");
    check(MatGetLocalSize(A, &local_m, &local_n), "MatGetLocalSize");
  }
};

/// Checks that every vector of X has the global size and this rank's local size of A's rows
/// (range) or columns (domain), and finite values; collective.
inline void require_block(const char* where, const char* name, Mat A, const VecBlock& X,
                          bool domain, Eigen::Index k) {
  const Layout L(A);
  const PetscInt global = domain ? L.n : L.m, local = domain ? L.local_n : L.local_m;
  const char* side = domain ? "the columns of A" : "the rows of A";
  if (X.size() != k)
    sparsegrad::detail::throw_invalid(where, name, concat(k, " vectors"),
                                      concat(X.size(), " vectors"));
  for (Eigen::Index j = 0; j < X.size(); ++j) {
    if (!X[j])
      sparsegrad::detail::throw_invalid(where, name, "allocated vectors",
                                        concat("a null Vec at ", j));
    PetscInt g = 0, l = 0;
    check(VecGetSize(X[j], &g), "VecGetSize");
    check(VecGetLocalSize(X[j], &l), "VecGetLocalSize");
    if (g != global)
      sparsegrad::detail::throw_invalid(where, name,
                                        concat("vectors of size ", global, " (", side, ")"),
                                        concat("size ", g, " at ", j));
    if (!on_all_ranks(comm_of(PetscObject(A)), l == local))
      sparsegrad::detail::throw_invalid(
          where, name, concat("the parallel layout of ", side, " (MatCreateVecs's)"),
          concat("another layout at ", j, " (local sizes differ on some rank)"));
    PetscReal inf = 0;
    check(VecNorm(X[j], NORM_INFINITY, &inf), "VecNorm");
    if (!std::isfinite(inf))
      sparsegrad::detail::throw_invalid(where, name, "finite values",
                                        concat("a NaN or Inf in vector ", j));
  }
}

/// Replaces null vectors (columns the kernel left at zero) by zero vectors of A's layout.
inline void materialize(Mat A, VecBlock& X, bool domain) {
  for (Eigen::Index j = 0; j < X.size(); ++j) {
    if (X[j]) continue;
    if (domain)
      check(MatCreateVecs(A, &X.at(j), nullptr), "MatCreateVecs");
    else
      check(MatCreateVecs(A, nullptr, &X.at(j)), "MatCreateVecs");
    check(VecSet(X.at(j), 0.0), "VecSet");
  }
}

}  // namespace detail

/// Result of `petsc::lsmr`: X (n-layout, one Vec per right-hand side) and the per-column
/// diagnostics, identical on every rank.
struct LsmrResult : Diagnostics {
  VecBlock X;
};

/// LSMR (the kernel of lsmr.hpp) on the distributed A for every vector of B; options as in the
/// serial `sparsegrad::lsmr` (x0 is not supported here: it must be empty). Collective; never
/// throws for numerical outcomes.
inline LsmrResult lsmr(Mat A, const VecBlock& B, const LsmrOptions<PetscScalar>& options = {},
                       bool adjoint = false) {
  const char* where = adjoint ? "petsc::lsmr (adjoint)" : "petsc::lsmr";
  options.check(where);
  if (options.x0.size() > 0)
    sparsegrad::detail::throw_invalid(
        where, "options.x0", "empty (no warm start on PETSc)",
        sparsegrad::detail::shape_string(options.x0.rows(), options.x0.cols()));
  detail::require_block(where, "B", A, B, adjoint, B.size());
  const MatOperator op(A);
  LsmrResult result;
  if (adjoint)
    sparsegrad::detail::lsmr_kernel<detail::VecSpace>(AdjointOperator<MatOperator>(op), B, nullptr,
                                                      B.size(), options, result.X, result);
  else
    sparsegrad::detail::lsmr_kernel<detail::VecSpace>(op, B, nullptr, B.size(), options, result.X,
                                                      result);
  detail::materialize(A, result.X, !adjoint);
  return result;
}

/// The default PETSc solver functor: LSMR with `options`, keeping the diagnostics of its last
/// forward run in last() and of its last backward solve in last_backward() (the same on every
/// rank). `solver(A, B)` solves min ‖AX − B‖, `solver.solve_adjoint(A, G)` gives Y = (Aᵀ)⁺G and
/// `solver.solve_normal(A, G)` H = (AᵀA + λ²I)⁻¹G (the backward pass uses the latter: one
/// solve, as the serial Lsmr). On failure (istop 3, 6, 7) it throws convergence_error on every
/// rank unless options.throw_on_failure is false.
class Lsmr {
 public:
  LsmrOptions<PetscScalar> options;

  Lsmr() = default;
  explicit Lsmr(LsmrOptions<PetscScalar> opts) : options(std::move(opts)) {}

  VecBlock operator()(Mat A, const VecBlock& B) {
    last_ = lsmr(A, B, options, false);
    sparsegrad::detail::require_solved("petsc::Lsmr", "LSMR", last_, options.throw_on_failure);
    return last_.X;
  }

  VecBlock solve_adjoint(Mat A, const VecBlock& G) {
    last_backward_ = lsmr(A, G, options, true);
    sparsegrad::detail::require_solved("petsc::Lsmr::solve_adjoint", "LSMR", last_backward_,
                                       options.throw_on_failure);
    return last_backward_.X;
  }

  /// H = (AᵀA + λ²I)⁻¹G by the CRAIG kernel of krylov/craig.hpp (the serial Lsmr::solve_normal's),
  /// on the distributed A: the one solve of the backward pass (dB = A·H). Throws
  /// std::domain_error when AᵀY = G is inconsistent (rank-deficient A) and convergence_error for
  /// istop 3, 6, 7 when options.throw_on_failure; on every rank alike.
  VecBlock solve_normal(Mat A, const VecBlock& G) {
    const char* where = "petsc::Lsmr::solve_normal";
    options.check(where);
    detail::require_block(where, "G", A, G, true, G.size());
    const MatOperator op(A);
    last_backward_ = LsmrResult{};
    sparsegrad::detail::craig_kernel<detail::VecSpace>(op, G, G.size(), options, last_backward_.X,
                                                       last_backward_);
    detail::materialize(A, last_backward_.X, true);
    sparsegrad::detail::require_solved(where, "CRAIG", last_backward_, options.throw_on_failure);
    return last_backward_.X;
  }

  const LsmrResult& last() const { return last_; }
  const LsmrResult& last_backward() const { return last_backward_; }

 private:
  LsmrResult last_, last_backward_;
};

/// Options of the KSPLSQR functor. The KSP also reads PETSc's options database under `prefix`
/// (e.g. -sparsegrad_ksp_rtol, -sparsegrad_pc_type), after these values.
struct KspLsqrOptions {
  /// KSP rtol: stop when ‖r‖ ≤ rtol‖b‖ or ‖Aᵀr‖ ≤ rtol‖A‖‖r‖ (KSPLSQRConvergedDefault).
  PetscReal rtol = 1e-10;
  /// KSP abstol on ‖r‖ and ‖Aᵀr‖.
  PetscReal atol = 1e-50;
  /// Iteration limit per right-hand side.
  PetscInt maxiter = 10000;
  /// Preconditioner of the forward solve, any PCType ("none", "jacobi", "bjacobi", ...). Other
  /// than "none" it is built on the normal matrix AᵀA (MatCreateNormal, never formed), as
  /// KSPLSQR requires. The transposed solve of the backward pass is unpreconditioned (its
  /// options are under prefix + "adjoint_").
  std::string pc_type = "none";
  /// Options prefix for KSPSetFromOptions.
  std::string prefix = "sparsegrad_";
  /// Throw convergence_error when KSP diverges (reason < 0), else return X as it is.
  bool throw_on_failure = true;
};

/// PETSc's KSPLSQR as a solver functor: `solver(A, B)` and `solver.solve_adjoint(A, G)` (LSQR on
/// MatCreateTranspose(A)), usable with petsc::lstsq and petsc::lstsq_backward.
class KspLsqr {
 public:
  KspLsqrOptions options;

  KspLsqr() = default;
  explicit KspLsqr(KspLsqrOptions opts) : options(std::move(opts)) {}

  VecBlock operator()(Mat A, const VecBlock& B) { return run(A, B, false); }
  VecBlock solve_adjoint(Mat A, const VecBlock& G) { return run(A, G, true); }

  /// KSPConvergedReason and iteration count of each column of the last call.
  const std::vector<int>& last_reasons() const { return reasons_; }
  const std::vector<int>& last_iterations() const { return iterations_; }
  /// Diagnostics of the last forward call (operator()) and of the last solve_adjoint: istop 1
  /// for a converged residual test, 2 for KSPLSQR's normal-equation test, 7 for a divergence
  /// (maxiter, breakdown); itn, normr and normar (KSPLSQRGetNorms) and norma (its estimate of
  /// ‖A‖_F) from the KSP; conda and error are not estimated (NaN).
  const Diagnostics& last() const { return last_; }
  const Diagnostics& last_backward() const { return last_backward_; }

 private:
  VecBlock run(Mat A, const VecBlock& B, bool adjoint) {
    using detail::check;
    const char* where = adjoint ? "petsc::KspLsqr::solve_adjoint" : "petsc::KspLsqr";
    detail::require_block(where, "B", A, B, adjoint, B.size());
    Matrix op, normal;
    if (adjoint) {
      check(MatCreateTranspose(A, op.out()), "MatCreateTranspose");
    } else {
      check(PetscObjectReference(PetscObject(A)), "PetscObjectReference");
      *op.out() = A;
    }
    Owned<KSP, KSPDestroy> ksp;
    check(KSPCreate(detail::comm_of(PetscObject(A)), ksp.out()), "KSPCreate");
    check(KSPSetType(ksp, KSPLSQR), "KSPSetType");
    PC pc = nullptr;
    check(KSPGetPC(ksp, &pc), "KSPGetPC");
    // The preconditioner works on the normal matrix (never formed), also when it is chosen
    // through the options database; with PCNONE, KSPLSQR runs the original LSQR.
    check(MatCreateNormal(op, normal.out()), "MatCreateNormal");
    check(KSPSetOperators(ksp, op, normal), "KSPSetOperators");
    check(PCSetType(pc, adjoint ? PCNONE : options.pc_type.c_str()), "PCSetType");
    check(KSPSetTolerances(ksp, options.rtol, options.atol, PETSC_DEFAULT, options.maxiter),
          "KSPSetTolerances");
    const std::string prefix = options.prefix + (adjoint ? "adjoint_" : "");
    check(KSPSetOptionsPrefix(ksp, prefix.c_str()), "KSPSetOptionsPrefix");
    check(KSPSetFromOptions(ksp), "KSPSetFromOptions");

    VecBlock X(B.size());
    detail::materialize(A, X, !adjoint);
    reasons_.assign(static_cast<std::size_t>(B.size()), 0);
    iterations_.assign(static_cast<std::size_t>(B.size()), 0);
    Diagnostics& d = adjoint ? last_backward_ : last_;
    d.resize(static_cast<std::size_t>(B.size()));
    std::fill(d.conda.begin(), d.conda.end(), std::numeric_limits<double>::quiet_NaN());
    for (Eigen::Index j = 0; j < B.size(); ++j) {
      check(KSPSolve(ksp, B[j], X.at(j)), "KSPSolve");
      KSPConvergedReason reason;
      PetscInt its = 0;
      check(KSPGetConvergedReason(ksp, &reason), "KSPGetConvergedReason");
      check(KSPGetIterationNumber(ksp, &its), "KSPGetIterationNumber");
      const auto jj = static_cast<std::size_t>(j);
      reasons_[jj] = int(reason);
      iterations_[jj] = int(its);
      PetscReal normr = 0, normar = 0, norma = 0;
      check(KSPGetResidualNorm(ksp, &normr), "KSPGetResidualNorm");
      check(KSPLSQRGetNorms(ksp, &normar, &norma), "KSPLSQRGetNorms");
      check(VecNorm(X[j], NORM_2, &d.normx[jj]), "VecNorm");
      d.istop[jj] = reason < 0 ? int(Stop::iteration_limit)
                    : reason == KSP_CONVERGED_RTOL_NORMAL || reason == KSP_CONVERGED_ATOL_NORMAL
                        ? int(Stop::least_squares)
                        : int(Stop::compatible);
      d.itn[jj] = int(its), d.normr[jj] = normr, d.normar[jj] = normar, d.norma[jj] = norma;
      if (reason < 0 && options.throw_on_failure) {
        throw convergence_error(
            detail::concat("sparsegrad: ", where, ": KSPLSQR diverged on column ", j, ": ",
                           KSPConvergedReasons[reason], " after ", its, " iterations"),
            d);
      }
    }
    return X;
  }

  std::vector<int> reasons_, iterations_;
  Diagnostics last_, last_backward_;
};

/// Distributed MPIAIJ matrix from the rows of a CooMatrix that this rank owns: every rank passes
/// a COO holding (at least) its own rows, with global indices; entries of other rows are
/// ignored, duplicates add up. Rows are split as PETSc decides (or `local_rows` on this rank),
/// columns likewise. Collective. Use it with io.hpp's read_matrix_market on each rank.
template <class StorageIndex>
Matrix create_matrix(MPI_Comm comm, const CooMatrix<PetscScalar, StorageIndex>& A,
                     PetscInt local_rows = PETSC_DECIDE, PetscInt local_cols = PETSC_DECIDE) {
  using detail::check;
  const char* where = "petsc::create_matrix";
  // Each rank passes its own COO: check all of them before any rank enters a collective call.
  std::string error;
  try {
    sparsegrad::detail::validate_matrix(where, A);
  } catch (const std::invalid_argument& e) {
    error = e.what();
  }
  if (!detail::on_all_ranks(comm, error.empty()))
    throw std::invalid_argument(
        error.empty() ? detail::concat("sparsegrad: ", where,
                                       ": argument 'A': expected a valid COO on every rank, got "
                                       "an invalid one on another rank")
                      : error);
  std::int64_t dims[2] = {std::int64_t(A.rows), std::int64_t(A.cols)}, low[2], high[2];
  MPI_Allreduce(dims, low, 2, MPI_INT64_T, MPI_MIN, comm);
  MPI_Allreduce(dims, high, 2, MPI_INT64_T, MPI_MAX, comm);
  if (low[0] != high[0] || low[1] != high[1])
    sparsegrad::detail::throw_invalid(where, "A", "the same global rows and cols on every rank",
                                      detail::concat("rows in [", low[0], ", ", high[0],
                                                     "], cols in [", low[1], ", ", high[1], "]"));
  const PetscInt m = detail::to_petsc_int(A.rows, where, "A.rows");
  const PetscInt n = detail::to_petsc_int(A.cols, where, "A.cols");
  // This rank's row and column ranges, as PETSc would split them.
  PetscInt lm = local_rows, ln = local_cols, mm = m, nn = n;
  check(PetscSplitOwnership(comm, &lm, &mm), "PetscSplitOwnership");
  check(PetscSplitOwnership(comm, &ln, &nn), "PetscSplitOwnership");
  PetscInt r1 = 0, c1 = 0;
  MPI_Scan(&lm, &r1, 1, MPIU_INT, MPI_SUM, comm);
  MPI_Scan(&ln, &c1, 1, MPIU_INT, MPI_SUM, comm);
  const PetscInt r0 = r1 - lm, c0 = c1 - ln;

  // This rank's entries sorted by (row, col) (stable: duplicates are added in input order); the
  // distinct entries of each row give the exact preallocation. Temporary: one index per entry.
  std::vector<Eigen::Index> order;
  for (Eigen::Index e = 0; e < A.values.size(); ++e)
    if (A.row[e] >= r0 && A.row[e] < r1) order.push_back(e);
  std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) {
    return A.row[a] < A.row[b] || (A.row[a] == A.row[b] && A.col[a] < A.col[b]);
  });
  auto duplicate = [&](std::size_t p) {
    return p > 0 && A.row[order[p]] == A.row[order[p - 1]] &&
           A.col[order[p]] == A.col[order[p - 1]];
  };
  std::vector<PetscInt> diag(static_cast<std::size_t>(r1 - r0), 0), off(diag.size(), 0);
  Eigen::Index distinct = 0;
  for (std::size_t p = 0; p < order.size(); ++p) {
    if (duplicate(p)) continue;
    ++distinct;
    const PetscInt j = PetscInt(A.col[order[p]]);
    ++(j >= c0 && j < c1 ? diag : off)[std::size_t(A.row[order[p]] - r0)];
  }
  // PETSc counts a rank's nonzeros in PetscInt.
  if (!detail::on_all_ranks(comm, distinct <= Eigen::Index(PETSC_MAX_INT)))
    sparsegrad::detail::throw_invalid(
        where, "A",
        detail::concat("at most ", PETSC_MAX_INT, " nonzeros in each rank's rows (",
                       8 * sizeof(PetscInt), "-bit PetscInt): use more ranks"),
        detail::concat(distinct, " on this rank (or more on another)"));
  Matrix M;
  check(MatCreateAIJ(comm, lm, ln, m, n, 0, diag.data(), 0, off.data(), M.out()), "MatCreateAIJ");
  check(MatSetOption(M, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE), "MatSetOption");
  std::vector<PetscInt> cols;
  std::vector<PetscScalar> vals;
  for (std::size_t p = 0; p < order.size();) {
    const PetscInt i = PetscInt(A.row[order[p]]);
    cols.clear(), vals.clear();
    for (; p < order.size() && A.row[order[p]] == i; ++p) {
      if (duplicate(p)) {
        vals.back() += A.values[order[p]];
      } else {
        cols.push_back(PetscInt(A.col[order[p]]));
        vals.push_back(A.values[order[p]]);
      }
    }
    check(MatSetValues(M, 1, &i, PetscInt(cols.size()), cols.data(), vals.data(), INSERT_VALUES),
          "MatSetValues");
  }
  check(MatAssemblyBegin(M, MAT_FINAL_ASSEMBLY), "MatAssemblyBegin");
  check(MatAssemblyEnd(M, MAT_FINAL_ASSEMBLY), "MatAssemblyEnd");
  return M;
}

namespace detail {

/// Calls a solver functor and checks the block it returns (layout, finite values); exceptions
/// other than sparsegrad's own and the standard argument/domain errors become solver_error.
template <class Call>
VecBlock checked_solve(const char* where, const char* what, Call&& call, Mat A, bool domain,
                       Eigen::Index k) {
  VecBlock out = sparsegrad::detail::call_solver(where, what, std::forward<Call>(call));
  try {
    materialize(A, out, domain);
    require_block(where, what, A, out, domain, k);
  } catch (const std::invalid_argument& e) {
    throw solver_error(
        concat("sparsegrad: ", where, ": the ", what, " returned a bad result: ", e.what()));
  }
  return out;
}

/// The entries of k distributed vectors at the global indices `needed` (sorted, unique), gathered
/// onto this rank with one VecScatter (built once, used for every vector):
/// out[c * needed.size() + p] = V_c[needed[p]]. Collective (every rank calls it).
inline std::vector<PetscScalar> gather(const std::vector<PetscInt>& needed, const VecBlock& V) {
  const PetscInt count = PetscInt(needed.size());
  std::vector<PetscScalar> out(needed.size() * static_cast<std::size_t>(V.size()));
  if (V.size() == 0) return out;
  Owned<IS, ISDestroy> is;
  check(ISCreateGeneral(PETSC_COMM_SELF, count, needed.data(), PETSC_USE_POINTER, is.out()),
        "ISCreateGeneral");
  Vector local;
  check(VecCreateSeq(PETSC_COMM_SELF, count, local.out()), "VecCreateSeq");
  Owned<VecScatter, VecScatterDestroy> scatter;
  check(VecScatterCreate(V[0], is, local, nullptr, scatter.out()), "VecScatterCreate");
  for (Eigen::Index c = 0; c < V.size(); ++c) {
    check(VecScatterBegin(scatter, V[c], local, INSERT_VALUES, SCATTER_FORWARD), "VecScatterBegin");
    check(VecScatterEnd(scatter, V[c], local, INSERT_VALUES, SCATTER_FORWARD), "VecScatterEnd");
    const PetscScalar* a = nullptr;
    check(VecGetArrayRead(local, &a), "VecGetArrayRead");
    std::copy(a, a + count, out.begin() + std::ptrdiff_t(c) * count);
    check(VecRestoreArrayRead(local, &a), "VecRestoreArrayRead");
  }
  return out;
}

/// Read access to the local part of every vector of a block.
class LocalArrays {
 public:
  explicit LocalArrays(const VecBlock& V) : V_(V), a_(static_cast<std::size_t>(V.size())) {
    for (Eigen::Index c = 0; c < V.size(); ++c)
      check(VecGetArrayRead(V[c], &a_[std::size_t(c)]), "VecGetArrayRead");
  }
  ~LocalArrays() {
    for (Eigen::Index c = 0; c < V_.size(); ++c) VecRestoreArrayRead(V_[c], &a_[std::size_t(c)]);
  }
  LocalArrays(const LocalArrays&) = delete;
  LocalArrays& operator=(const LocalArrays&) = delete;
  PetscScalar operator()(PetscInt local_row, Eigen::Index c) const {
    return a_[std::size_t(c)][local_row];
  }

 private:
  const VecBlock& V_;
  std::vector<const PetscScalar*> a_;
};

}  // namespace detail

/// Gradients of `petsc::lstsq_backward` (see the serial LstsqGrads).
struct LstsqGrads {
  Matrix A;            ///< dL/dA: A's layout and nonzero pattern, values on each rank's own rows
  VecBlock B;          ///< dL/dB: distributed like B
  PetscReal damp = 0;  ///< dL/dλ (λ = the solver's options.damp); 0 when undamped
  /// Ghosts: the columns of this rank's rows owned by other ranks, whose entries of X and H
  /// (per right-hand side) this rank fetched; all it stores beyond its own rows.
  PetscInt ghosts = 0;
  /// Estimated relative errors of dA and dB (see the serial LstsqGrads); NaN when the solver
  /// reports none.
  double error_A = std::numeric_limits<double>::quiet_NaN();
  double error_B = std::numeric_limits<double>::quiet_NaN();
  /// Diagnostics of the backward's solve.
  Diagnostics diagnostics;
};

namespace detail {

/// The adjoint engine's backend (adjoint.hpp) on PETSc: blocks are VecBlocks of A's row (m) or
/// column (n) layout, products are MatMult / MatMultTranspose, and dA is assembled on each
/// rank's own rows, with the entries of X, H and V at the ghost columns gathered once.
class AdjointBackend {
 public:
  using AType = Mat;
  using Block = VecBlock;
  using Scalar = PetscScalar;
  using Real = PetscReal;
  static constexpr const char* where = "petsc::lstsq_backward";

  AdjointBackend(Mat A, const VecBlock& B, const VecBlock& X, const VecBlock& dX)
      : A_(A), layout_(A), B_(B), X_(X), dX_(dX) {
    const Eigen::Index k = B.size();
    require_block(where, "B", A, B, false, k);
    require_block(where, "X", A, X, true, k);
    require_block(where, "dX", A, dX, true, k);
  }

  Eigen::Index m() const { return layout_.m; }
  Eigen::Index n() const { return layout_.n; }
  Eigen::Index k() const { return B_.size(); }
  const Block& B() const { return B_; }
  const Block& X() const { return X_; }
  const Block& dX() const { return dX_; }

  Block apply(const Block& V) const { return product(V, false); }
  Block apply_adjoint(const Block& U) const { return product(U, true); }
  static Block minus(const Block& a, const Block& b) {
    Block out = a;
    for (Eigen::Index c = 0; c < out.size(); ++c) check(VecAXPY(out.at(c), -1.0, b[c]), "VecAXPY");
    return out;
  }
  static Block join(std::initializer_list<const Block*> parts) {
    std::vector<Vec> all;
    for (const Block* p : parts)
      for (Eigen::Index c = 0; c < p->size(); ++c) all.push_back((*p)[c]);
    return Block::referencing(all);
  }
  static Block slice(const Block& Y, Eigen::Index first, Eigen::Index count) {
    std::vector<Vec> part;
    for (Eigen::Index c = first; c < first + count; ++c) part.push_back(Y[c]);
    return Block::referencing(part);
  }
  static Eigen::Index columns(const Block& Y) { return Y.size(); }
  static Real norm(const Block& Y, Eigen::Index j) { return VecSpace::norm(Y, j); }
  static Real dot_re(const Block& a, const Block& b) {
    Real sum = 0;
    for (Eigen::Index c = 0; c < a.size(); ++c) {
      PetscScalar d = 0;
      check(VecDot(b[c], a[c], &d), "VecDot");
      sum += d;
    }
    return sum;
  }
  Block zeros_m(Eigen::Index k) const {
    Block out(k);
    materialize(A_, out, false);
    return out;
  }
  const Block& probe() {
    if (probe_.size() == 0) {
      probe_ = Block(1);
      check(MatCreateVecs(A_, nullptr, &probe_.at(0)), "MatCreateVecs");
      PetscInt lo = 0, hi = 0;
      check(VecGetOwnershipRange(probe_[0], &lo, &hi), "VecGetOwnershipRange");
      PetscScalar* a = nullptr;
      check(VecGetArray(probe_[0], &a), "VecGetArray");
      for (PetscInt i = lo; i < hi; ++i)
        a[i - lo] = sparsegrad::detail::rank_probe_entry(Eigen::Index(i));
      check(VecRestoreArray(probe_[0], &a), "VecRestoreArray");
    }
    return probe_;
  }
  Real norm_A() const {
    PetscReal norm = 0;
    check(MatNorm(A_, NORM_FROBENIUS, &norm), "MatNorm");
    return norm;
  }

  template <class Solver>
  Block solve(Solver& solver, const Block& G, const char* what) const {
    return checked_solve(
        where, what, [&]() -> VecBlock { return solver(A_, G); }, A_, true, G.size());
  }
  template <class Solver>
  Block solve_normal(Solver& solver, const Block& G) const {
    return checked_solve(
        where, "solver's solve_normal", [&]() -> VecBlock { return solver.solve_normal(A_, G); },
        A_, true, G.size());
  }
  template <class Call>
  Block solve_adjoint(Call& call, const Block& G, const char* what) const {
    return checked_solve(
        where, what, [&]() -> VecBlock { return call(A_, G); }, A_, false, G.size());
  }
  /// (AAᵀ + λ²I)⁻¹G with the solver's solve_normal on Aᵀ (MatCreateTranspose: no copy).
  template <class Solver>
  Block solve_row_normal(Solver& solver, const Block& G) const {
    Matrix At;
    check(MatCreateTranspose(A_, At.out()), "MatCreateTranspose");
    try {
      return checked_solve(
          where, "solver's solve_normal",
          [&]() -> VecBlock { return solver.solve_normal(At.get(), G); }, At, true, G.size());
    } catch (const std::domain_error& e) {
      sparsegrad::detail::throw_domain(
          where, "A", "full row rank for a wide A (rows < cols)",
          concat("a rank-deficient A: the solve with A A^T reported: ", e.what(),
                 "; the least-squares gradient does not exist there without damping"));
    }
  }

  static Lsmr default_transpose() { return Lsmr(); }

  /// R = AX − B.
  Block residual() const { return minus(apply(X_), B_); }
  /// Bounds for the pattern-restricted norms of the engine's error estimate (adjoint.hpp):
  /// here the full norms ‖Y_j‖, which bound them (no gather of the pattern).
  std::vector<double> pattern_row_max(const Block& Y) const { return norms(Y); }
  std::vector<double> pattern_col_max(const Block& U) const { return norms(U); }
  /// ‖ |A| |H_j| ‖ bounded by ‖A‖_F ‖H_j‖.
  std::vector<double> abs_product_norms(const Block& H) const {
    std::vector<double> out = norms(H);
    for (double& v : out) v *= double(norm_A());
    return out;
  }
  /// ‖dL/dA‖_F.
  static double gradient_norm(const LstsqGrads& g) {
    PetscReal norm = 0;
    check(MatNorm(g.A.get(), NORM_FROBENIUS, &norm), "MatNorm");
    return double(norm);
  }

  /// dA on each rank's own rows of A's pattern: dA_ij = Σ_c −dB_ic X_jc − r_ic H_jc + W_ic V_jc,
  /// r = AX − B; the entries of X, H and V at columns owned by other ranks (the ghosts, as in
  /// MatMult) are gathered with one VecScatter.
  LstsqGrads assemble(sparsegrad::detail::AdjointTerms<Block, Real>&& t) const {
    const Eigen::Index k = this->k();
    LstsqGrads g;
    g.damp = t.ddamp;
    g.B = k == 0 ? Block(0) : std::move(t.dB);
    Block R(0);
    if (t.with_H) R = t.R.size() == k ? std::move(t.R) : minus(apply(X_), B_);
    PetscInt r0 = 0, r1 = 0, c0 = 0, c1 = 0;
    check(MatGetOwnershipRange(A_, &r0, &r1), "MatGetOwnershipRange");
    check(MatGetOwnershipRangeColumn(A_, &c0, &c1), "MatGetOwnershipRangeColumn");
    std::vector<PetscInt> ghosts;
    for (PetscInt i = r0; i < r1; ++i) {
      PetscInt ncols = 0;
      const PetscInt* cols = nullptr;
      check(MatGetRow(A_, i, &ncols, &cols, nullptr), "MatGetRow");
      for (PetscInt e = 0; e < ncols; ++e)
        if (cols[e] < c0 || cols[e] >= c1) ghosts.push_back(cols[e]);
      check(MatRestoreRow(A_, i, &ncols, &cols, nullptr), "MatRestoreRow");
    }
    std::sort(ghosts.begin(), ghosts.end());
    ghosts.erase(std::unique(ghosts.begin(), ghosts.end()), ghosts.end());
    g.ghosts = PetscInt(ghosts.size());
    const std::size_t count = ghosts.size();
    const std::vector<PetscScalar> Xg = gather(ghosts, X_);
    const std::vector<PetscScalar> Hg = t.with_H ? gather(ghosts, t.H) : std::vector<PetscScalar>();
    const std::vector<PetscScalar> Vg =
        t.with_null_space ? gather(ghosts, t.V) : std::vector<PetscScalar>();

    check(MatDuplicate(A_, MAT_DO_NOT_COPY_VALUES, g.A.out()), "MatDuplicate");
    {
      const LocalArrays dBl(g.B), Rl(R), Xl(X_), Hl(t.H), Wl(t.W), Vl(t.V);
      std::vector<PetscInt> cols;
      std::vector<PetscScalar> vals;
      for (PetscInt i = r0; i < r1; ++i) {
        PetscInt ncols = 0;
        const PetscInt* c = nullptr;
        check(MatGetRow(A_, i, &ncols, &c, nullptr), "MatGetRow");
        cols.assign(c, c + ncols);
        check(MatRestoreRow(A_, i, &ncols, &c, nullptr), "MatRestoreRow");
        vals.assign(cols.size(), 0.0);
        for (std::size_t e = 0; e < cols.size(); ++e) {
          const PetscInt j = cols[e];
          const bool local = j >= c0 && j < c1;
          const std::size_t p =
              local
                  ? 0
                  : std::size_t(std::lower_bound(ghosts.begin(), ghosts.end(), j) - ghosts.begin());
          auto at = [&](const LocalArrays& L, const std::vector<PetscScalar>& G, Eigen::Index q) {
            return local ? L(j - c0, q) : G[std::size_t(q) * count + p];
          };
          PetscScalar v = 0;
          for (Eigen::Index q = 0; q < k; ++q) {
            v -= dBl(i - r0, q) * at(Xl, Xg, q);
            if (t.with_H) v -= Rl(i - r0, q) * at(Hl, Hg, q);
            if (t.with_null_space) v += Wl(i - r0, q) * at(Vl, Vg, q);
          }
          vals[e] = v;
        }
        check(MatSetValues(g.A, 1, &i, PetscInt(cols.size()), cols.data(), vals.data(),
                           INSERT_VALUES),
              "MatSetValues");
      }
    }
    check(MatAssemblyBegin(g.A, MAT_FINAL_ASSEMBLY), "MatAssemblyBegin");
    check(MatAssemblyEnd(g.A, MAT_FINAL_ASSEMBLY), "MatAssemblyEnd");
    // A gradient beyond the range of double (finite inputs, overflowing products) is refused.
    PetscReal normdA = 0;
    check(MatNorm(g.A, NORM_FROBENIUS, &normdA), "MatNorm");
    bool finite = std::isfinite(normdA) && std::isfinite(double(g.damp));
    for (Eigen::Index c = 0; c < g.B.size(); ++c) finite = finite && std::isfinite(norm(g.B, c));
    if (!finite)
      sparsegrad::detail::throw_domain(where, "B, X and dX",
                                       "a gradient representable in the scalar type",
                                       "an overflow in dL/dA, dL/dB or dL/ddamp: products of B, X "
                                       "and dX overflow; rescale the problem");
    return g;
  }

 private:
  Block product(const Block& V, bool adjoint) const {
    Block Y(V.size());
    if (adjoint)
      MatOperator(A_).apply_adjoint({&V, V.size()}, {&Y, V.size()});
    else
      MatOperator(A_).apply({&V, V.size()}, {&Y, V.size()});
    return Y;
  }

  static std::vector<double> norms(const Block& Y) {
    std::vector<double> out;
    for (Eigen::Index c = 0; c < Y.size(); ++c) out.push_back(double(norm(Y, c)));
    return out;
  }

  Mat A_;
  Layout layout_;
  const VecBlock &B_, &X_, &dX_;
  Block probe_;
};

}  // namespace detail

/// X = argmin ‖AX − B‖ for each vector of B with `solver` (callable as solver(Mat, const
/// VecBlock&) -> VecBlock: petsc::Lsmr, petsc::KspLsqr or your own). Collective.
template <class Solver>
VecBlock lstsq(Mat A, const VecBlock& B, Solver&& solver) {
  constexpr const char* where = "petsc::lstsq";
  detail::require_block(where, "B", A, B, false, B.size());
  return detail::checked_solve(
      where, "solver", [&]() -> VecBlock { return solver(A, B); }, A, true, B.size());
}

/// One right-hand side: returns the distributed solution x (A's column layout).
template <class Solver>
Vector lstsq(Mat A, Vec b, Solver&& solver) {
  VecBlock X = lstsq(A, VecBlock::referencing({b}), std::forward<Solver>(solver));
  return Vector(X.release(0));
}

/// With the default petsc::Lsmr (throws convergence_error on failure).
inline Vector lstsq(Mat A, Vec b) {
  return lstsq(A, b, Lsmr{});
}

/// Reverse mode of petsc::lstsq: the serial lstsq_backward's engine (adjoint.hpp: the same
/// paths, rank tests, damping and wide case), on the distributed A. With solve_normal
/// (petsc::Lsmr: CRAIG) one solve, damped or not, tall or wide; otherwise (undamped only) the
/// seed's two: dB = solver.solve_adjoint(A, dX) if it has one (KspLsqr), else petsc::Lsmr's,
/// then H = solver(A, dB). Collective.
template <class Solver>
LstsqGrads lstsq_backward(Mat A, const VecBlock& B, const VecBlock& X, const VecBlock& dX,
                          Solver&& solver) {
  detail::AdjointBackend backend(A, B, X, dX);
  return sparsegrad::detail::AdjointEngine<detail::AdjointBackend>(backend).run(solver);
}

/// One right-hand side (Vecs); g.B holds one vector.
template <class Solver>
LstsqGrads lstsq_backward(Mat A, Vec b, Vec x, Vec dx, Solver&& solver) {
  return lstsq_backward(A, VecBlock::referencing({b}), VecBlock::referencing({x}),
                        VecBlock::referencing({dx}), std::forward<Solver>(solver));
}

/// With the default petsc::Lsmr.
inline LstsqGrads lstsq_backward(Mat A, Vec b, Vec x, Vec dx) {
  Lsmr solver;
  return lstsq_backward(A, b, x, dx, solver);
}

}  // namespace petsc

/// petsc::Lsmr decides the rank in its CRAIG solve (trusted mode) and gates the
/// gradients' estimated errors, as the serial Lsmr.
template <>
struct solver_traits<petsc::Lsmr> : default_solver_traits<petsc::Lsmr> {
  static bool checks_rank(const petsc::Lsmr& s) { return !s.options.scipy_compatible; }
  static double gradient_tolerance(const petsc::Lsmr& s) {
    if (s.options.scipy_compatible) return std::numeric_limits<double>::quiet_NaN();
    return s.options.gradient_tolerance_for(std::numeric_limits<PetscReal>::epsilon());
  }
};

/// KSPLSQR's accuracy claim is its rtol, for the backward's consistency (rank) test.
template <>
struct solver_traits<petsc::KspLsqr> : default_solver_traits<petsc::KspLsqr> {
  static std::pair<double, double> tolerances(const petsc::KspLsqr& solver) {
    return {solver.options.rtol, solver.options.rtol};
  }
};

}  // namespace sparsegrad

#endif  // SPARSEGRAD_BACKENDS_PETSC_HPP
