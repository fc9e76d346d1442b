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

#include "../coo.hpp"
#include "../detail/checks.hpp"
#include "../errors.hpp"
#include "../krylov/craig.hpp"
#include "../krylov/lsmr.hpp"
#include "../operator.hpp"
#include "../solvers/call.hpp"

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
struct VecSpace {
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
/// run (the same on every rank). `solver(A, B)` solves min ‖AX − B‖, `solver.solve_adjoint(A, G)`
/// gives Y = (Aᵀ)⁺G and `solver.solve_normal(A, G)` H = (AᵀA)⁻¹G (the backward pass uses the
/// latter: one solve, as the serial Lsmr). On failure (istop 3, 6, 7) it
/// throws convergence_error on every rank unless options.throw_on_failure is false.
class Lsmr {
 public:
  LsmrOptions<PetscScalar> options;

  Lsmr() = default;
  explicit Lsmr(LsmrOptions<PetscScalar> opts) : options(std::move(opts)) {}

  VecBlock operator()(Mat A, const VecBlock& B) { return run(A, B, false); }
  VecBlock solve_adjoint(Mat A, const VecBlock& G) { return run(A, G, true); }

  /// H = (AᵀA + λ²I)⁻¹G by the CRAIG kernel of craig.hpp (the serial Lsmr::solve_normal's), on
  /// the distributed A: the one solve of the backward pass (dB = A·H). Throws std::domain_error
  /// when AᵀY = G is inconsistent (rank-deficient A) and convergence_error for istop 3, 6, 7
  /// when options.throw_on_failure; on every rank alike.
  VecBlock solve_normal(Mat A, const VecBlock& G) {
    const char* where = "petsc::Lsmr::solve_normal";
    options.check(where);
    detail::require_block(where, "G", A, G, true, G.size());
    const MatOperator op(A);
    last_ = LsmrResult{};
    sparsegrad::detail::craig_kernel<detail::VecSpace>(op, G, G.size(), options, last_.X, last_);
    detail::materialize(A, last_.X, true);
    for (std::size_t j = 0; j < last_.istop.size(); ++j)
      if (last_.stop(j) == Stop::rank_deficient)
        sparsegrad::detail::throw_domain(
            where, "A", "full column rank (the system A^T Y = G consistent)",
            detail::concat("an inconsistent system for column ", j, " of G after ", last_.itn[j],
                           " iterations: A is rank-deficient, or its smallest singular value is "
                           "below atol * ||A||_F"));
    if (options.throw_on_failure && !last_.converged())
      throw convergence_error(detail::concat("sparsegrad: ", where,
                                             ": CRAIG did not converge: ", last_.failure_summary()),
                              last_.diagnostics());
    return last_.X;
  }

  const LsmrResult& last() const { return last_; }

 private:
  VecBlock run(Mat A, const VecBlock& B, bool adjoint) {
    last_ = lsmr(A, B, options, adjoint);
    if (options.throw_on_failure && !last_.converged())
      throw convergence_error(
          sparsegrad::detail::concat("sparsegrad: petsc::Lsmr", adjoint ? "::solve_adjoint" : "",
                                     ": LSMR did not converge: ", last_.failure_summary()),
          last_.diagnostics());
    return last_.X;
  }

  LsmrResult last_;
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
    for (Eigen::Index j = 0; j < B.size(); ++j) {
      check(KSPSolve(ksp, B[j], X.at(j)), "KSPSolve");
      KSPConvergedReason reason;
      PetscInt its = 0;
      check(KSPGetConvergedReason(ksp, &reason), "KSPGetConvergedReason");
      check(KSPGetIterationNumber(ksp, &its), "KSPGetIterationNumber");
      reasons_[static_cast<std::size_t>(j)] = int(reason);
      iterations_[static_cast<std::size_t>(j)] = int(its);
      if (reason < 0 && options.throw_on_failure) {
        ConvergenceDiagnostics d;
        d.istop.assign(static_cast<std::size_t>(B.size()), 0);
        d.istop[static_cast<std::size_t>(j)] = 7;
        d.itn = iterations_;
        throw convergence_error(
            detail::concat("sparsegrad: ", where, ": KSPLSQR diverged on column ", j, ": ",
                           KSPConvergedReasons[reason], " after ", its, " iterations"),
            d);
      }
    }
    return X;
  }

  std::vector<int> reasons_, iterations_;
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

template <class S, class = void>
struct has_solve_adjoint : std::false_type {};
template <class S>
struct has_solve_adjoint<S, std::void_t<decltype(std::declval<S&>().solve_adjoint(
                                std::declval<Mat>(), std::declval<const VecBlock&>()))>>
    : std::true_type {};

template <class S, class = void>
struct has_solve_normal : std::false_type {};
template <class S>
struct has_solve_normal<S, std::void_t<decltype(std::declval<S&>().solve_normal(
                               std::declval<Mat>(), std::declval<const VecBlock&>()))>>
    : std::true_type {};

/// Relative tolerances of a solver, for the consistency test of the transposed solve.
template <class S>
std::pair<PetscReal, PetscReal> tolerances(const S& solver) {
  if constexpr (std::is_same<std::decay_t<S>, Lsmr>::value) {
    return {solver.options.atol, solver.options.btol};
  } else if constexpr (std::is_same<std::decay_t<S>, KspLsqr>::value) {
    return {solver.options.rtol, solver.options.rtol};
  } else {
    return {1e-6, 1e-6};
  }
}

/// The serial library's test (lstsq.hpp, require_consistent_adjoint) on Vecs: AᵀdB = dX must be
/// consistent, else A is rank-deficient and the gradient does not exist.
inline void require_consistent_adjoint(const char* where, Mat A, const VecBlock& dB,
                                       const VecBlock& dX, std::pair<PetscReal, PetscReal> tol) {
  PetscReal normA = 0;
  check(MatNorm(A, NORM_FROBENIUS, &normA), "MatNorm");
  const PetscReal eps = std::numeric_limits<PetscReal>::epsilon();
  Vector residual;
  for (Eigen::Index j = 0; j < dX.size(); ++j) {
    if (!residual) check(VecDuplicate(dX[j], residual.out()), "VecDuplicate");
    check(MatMultTranspose(A, dB[j], residual), "MatMultTranspose");
    check(VecAXPY(residual, -1.0, dX[j]), "VecAXPY");
    const PetscReal normdX = VecSpace::norm(dX, j);
    if (normdX == 0) continue;
    const PetscReal scale = normA * VecSpace::norm(dB, j) / normdX;
    const PetscReal bound =
        std::max(10 * (tol.second + tol.first * scale), 1000 * eps * (1 + scale));
    PetscReal normres = 0;
    check(VecNorm(residual, NORM_2, &normres), "VecNorm");
    if (!(normres / normdX <= bound))
      sparsegrad::detail::throw_domain(
          where, "A", "full column rank (the transposed system A^T dB = dX consistent)",
          concat("relative residual ", normres / normdX, " > ", bound, " for column ", j,
                 " of dX: A is rank-deficient"));
  }
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
  PetscReal damp = 0;  ///< dL/dλ (λ = petsc::Lsmr's options.damp); 0 when undamped
  /// Ghosts: the columns of this rank's rows owned by other ranks, whose entries of X and H
  /// (per right-hand side) this rank fetched; all it stores beyond its own rows.
  PetscInt ghosts = 0;
};

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

/// Reverse mode of petsc::lstsq (the serial lstsq_backward's math and checks, distributed):
/// H = (AᵀA + λ²I)⁻¹dX, dB = A H and dA_ij = −dB_i·X_j − r_i·H_j on A's nonzeros, r = AX − B,
/// dλ = −2λ Σ X∘H. With solve_normal (petsc::Lsmr: CRAIG) that is one solve, damped or not;
/// otherwise (undamped only) the seed's two: dB = solver.solve_adjoint(A, dX) if it has one
/// (KspLsqr), else petsc::Lsmr's, then H = solver(A, dB). Undamped, A must be tall or square
/// of full column rank, else std::domain_error. Collective.
template <class Solver>
LstsqGrads lstsq_backward(Mat A, const VecBlock& B, const VecBlock& X, const VecBlock& dX,
                          Solver&& solver) {
  using detail::check;
  constexpr const char* where = "petsc::lstsq_backward";
  using SolverType = std::decay_t<Solver>;
  // λ: petsc::Lsmr's options.damp; a damped problem needs solve_normal ((AᵀA + λ²I)⁻¹).
  PetscReal damp = 0;
  if constexpr (std::is_same<SolverType, Lsmr>::value) damp = solver.options.damp;
  const detail::Layout L(A);
  if (damp == 0 && L.m < L.n)
    sparsegrad::detail::throw_domain(
        where, "A", "a tall or square matrix (rows >= cols), or damping (solver.options.damp > 0)",
        sparsegrad::detail::shape_string(L.m, L.n));
  const Eigen::Index k = B.size();
  detail::require_block(where, "B", A, B, false, k);
  detail::require_block(where, "X", A, X, true, k);
  detail::require_block(where, "dX", A, dX, true, k);

  LstsqGrads g;
  VecBlock H;
  if constexpr (detail::has_solve_normal<SolverType>::value) {
    // One solve: H = (AᵀA + λ²I)⁻¹dX, dB = A H.
    H = detail::checked_solve(
        where, "solver's solve_normal", [&]() -> VecBlock { return solver.solve_normal(A, dX); }, A,
        true, k);
    g.B = VecBlock(k);
    MatOperator(A).apply({&H, k}, {&g.B, k});
  } else {
    // The seed's two solves: dB = (Aᵀ)⁺dX, then H = A⁺dB.
    Lsmr fallback;
    g.B = detail::checked_solve(
        where, "transpose solver",
        [&]() -> VecBlock {
          if constexpr (detail::has_solve_adjoint<SolverType>::value)
            return solver.solve_adjoint(A, dX);
          else
            return fallback.solve_adjoint(A, dX);
        },
        A, false, k);
  }
  // Undamped, AᵀdB = dX must be consistent (full column rank); damped, AᵀdB = dX − λ²H.
  if (damp == 0) detail::require_consistent_adjoint(where, A, g.B, dX, detail::tolerances(solver));
  if constexpr (!detail::has_solve_normal<SolverType>::value)
    H = detail::checked_solve(
        where, "solver", [&]() -> VecBlock { return solver(A, g.B); }, A, true, k);
  // dL/dλ = −2λ Σ X ∘ H (global dots).
  for (Eigen::Index c = 0; c < k && damp != 0; ++c) {
    PetscScalar dot = 0;
    check(VecDot(H[c], X[c], &dot), "VecDot");
    g.damp -= 2 * damp * dot;
  }

  // r = AX − B on this rank's rows.
  VecBlock R(k);
  MatOperator(A).apply({&X, k}, {&R, k});
  for (Eigen::Index c = 0; c < k; ++c) check(VecAXPY(R.at(c), -1.0, B[c]), "VecAXPY");

  // dA_ij needs X_j and H_j for every column j of this rank's rows. Those in this rank's column
  // range are local; the others (the ghosts, as in MatMult) are gathered with one VecScatter.
  PetscInt r0 = 0, r1 = 0, c0 = 0, c1 = 0;
  check(MatGetOwnershipRange(A, &r0, &r1), "MatGetOwnershipRange");
  check(MatGetOwnershipRangeColumn(A, &c0, &c1), "MatGetOwnershipRangeColumn");
  std::vector<PetscInt> ghosts;
  for (PetscInt i = r0; i < r1; ++i) {
    PetscInt ncols = 0;
    const PetscInt* cols = nullptr;
    check(MatGetRow(A, i, &ncols, &cols, nullptr), "MatGetRow");
    for (PetscInt e = 0; e < ncols; ++e)
      if (cols[e] < c0 || cols[e] >= c1) ghosts.push_back(cols[e]);
    check(MatRestoreRow(A, i, &ncols, &cols, nullptr), "MatRestoreRow");
  }
  std::sort(ghosts.begin(), ghosts.end());
  ghosts.erase(std::unique(ghosts.begin(), ghosts.end()), ghosts.end());
  g.ghosts = PetscInt(ghosts.size());
  const std::vector<PetscScalar> Xg = detail::gather(ghosts, X), Hg = detail::gather(ghosts, H);
  const std::size_t count = ghosts.size();

  check(MatDuplicate(A, MAT_DO_NOT_COPY_VALUES, g.A.out()), "MatDuplicate");
  {
    const detail::LocalArrays dBl(g.B), Rl(R), Xl(X), Hl(H);
    std::vector<PetscInt> cols;
    std::vector<PetscScalar> vals;
    for (PetscInt i = r0; i < r1; ++i) {
      PetscInt ncols = 0;
      const PetscInt* c = nullptr;
      check(MatGetRow(A, i, &ncols, &c, nullptr), "MatGetRow");
      cols.assign(c, c + ncols);
      check(MatRestoreRow(A, i, &ncols, &c, nullptr), "MatRestoreRow");
      vals.assign(cols.size(), 0.0);
      for (std::size_t e = 0; e < cols.size(); ++e) {
        const PetscInt j = cols[e];
        const bool local = j >= c0 && j < c1;
        const std::size_t p =
            local ? 0
                  : std::size_t(std::lower_bound(ghosts.begin(), ghosts.end(), j) - ghosts.begin());
        PetscScalar v = 0;
        for (Eigen::Index q = 0; q < k; ++q) {
          const PetscScalar xj = local ? Xl(j - c0, q) : Xg[std::size_t(q) * count + p];
          const PetscScalar hj = local ? Hl(j - c0, q) : Hg[std::size_t(q) * count + p];
          v -= dBl(i - r0, q) * xj + Rl(i - r0, q) * hj;
        }
        vals[e] = v;
      }
      check(
          MatSetValues(g.A, 1, &i, PetscInt(cols.size()), cols.data(), vals.data(), INSERT_VALUES),
          "MatSetValues");
    }
  }
  check(MatAssemblyBegin(g.A, MAT_FINAL_ASSEMBLY), "MatAssemblyBegin");
  check(MatAssemblyEnd(g.A, MAT_FINAL_ASSEMBLY), "MatAssemblyEnd");
  return g;
}

/// One right-hand side (Vecs); g.B holds one vector.
template <class Solver>
LstsqGrads lstsq_backward(Mat A, Vec b, Vec x, Vec dx, Solver&& solver) {
  return lstsq_backward(A, VecBlock::referencing({b}), VecBlock::referencing({x}),
                        VecBlock::referencing({dx}), std::forward<Solver>(solver));
}

/// With the default petsc::Lsmr.
inline LstsqGrads lstsq_backward(Mat A, Vec b, Vec x, Vec dx) {
  return lstsq_backward(A, b, x, dx, Lsmr{});
}

}  // namespace petsc
}  // namespace sparsegrad

#endif  // SPARSEGRAD_BACKENDS_PETSC_HPP
