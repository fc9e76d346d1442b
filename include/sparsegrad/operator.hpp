// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_OPERATOR_HPP
#define SPARSEGRAD_OPERATOR_HPP

/// \file operator.hpp
/// Matrix-free views of A. The algorithms (LSMR, CRAIG and the adjoint) only see this concept:
///
///   op.rows(), op.cols()             dimensions of A
///   op.apply(V, Y)                   Y = A V        (V: cols() x k, Y: rows() x k)
///   op.apply_adjoint(U, Y)           Y = Aᴴ U       (U: rows() x k, Y: cols() x k)
///
/// V, U are Eigen dense expressions and Y a writable dense expression (for example a
/// `leftCols(k)` block of a workspace matrix), so the same operator serves one right-hand side
/// and a block of them. Any user type with these members works (a PETSc matrix, a GPU
/// operator, a composition such as a preconditioned A).
///
/// Kernels of the sparse operators (SparseOperator, CooOperator):
/// - The product along A's storage order (A·V for CSR, Aᴴ·U for CSC) is a gather: each output
///   row is one sum over the stored entries of one row (column) of A, taken in storage order and
///   started from 0, by one thread. With OpenMP the rows are split between threads in blocks of
///   equal nonzero count; the result does not depend on the number of threads.
/// - The product against the storage order (Aᴴ·U for CSR, A·V for CSC) is one of three kernels
///   (TransposedProduct): a serial scatter over A (no extra memory); a gather over a copy of A
///   in the other storage order (O(nnz) memory, parallel); or a chunked scatter: A's outer
///   range is cut into C chunks of about equal nonzero count, each chunk scatters into its own
///   accumulator (chunks run in parallel) and the accumulators are added in chunk order. The
///   scatter and the copy add the terms of every output entry in increasing index of the stored
///   row/column, so they give the same bits; the chunked scatter adds C ordered partial sums.
///   C depends on A alone (never on the thread count or on k), so every kernel's result is the
///   same on 1 thread and on many, and the same per column for one right-hand side or a block.
/// - For k > 1 the gather first transposes its input block into a k-interleaved workspace, and
///   the scatter accumulates into k-interleaved rows, so that A is read once for all k columns;
///   each column's sum keeps the order of the k = 1 product, so a block run gives, per column,
///   exactly the bits of a single-column run.
/// - These are the summation orders of scipy's csr_matvec / csc_matvec (and of Eigen 3.4's sparse
///   x dense product; Eigen 5 splits a row-major row sum into two accumulators), which LSMR's
///   scipy parity relies on.
/// - The block kernels hold a panel of up to 8 columns of a row as a fixed-size Eigen array, so
///   the k columns are processed in SIMD lanes; the lanes are columns, so the order is kept.
/// - Workspace: the interleaved block and the scatter's accumulators, grown when a larger k
///   arrives and then reused, so an iteration loop performs no allocation. An operator object is
///   therefore not safe to use from two threads at once; make one per thread.

#include <Eigen/SparseCore>
#include <algorithm>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "coo.hpp"
#include "matrix.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace sparsegrad {

/// How the sparse operators compute the product that runs against A's storage order
/// (Aᴴ·U when A is CSR, A·V when A is CSC). `scatter` and `copy` give the bits of scipy's
/// csr_matvec / csc_matvec order; `chunked` adds C ordered partial sums (see the file comment).
enum class TransposedProduct {
  /// The fastest choice that needs no thread-dependent order: `chunked` when the product's
  /// output is the shorter side of A (Aᴴ·U of a tall CSR A: the accumulators stay in cache),
  /// else `copy` (made at the first such product) with more than one OpenMP thread and
  /// `scatter` with one. The solvers use `scatter` instead with options.scipy_compatible.
  automatic,
  /// Gather over a copy of A in the other storage order, made once (nnz values and indices
  /// more memory); runs in parallel.
  copy,
  /// Serial scatter over A itself: no extra memory, one thread.
  scatter,
  /// Scatter in C chunks of A's outer range, in parallel, into accumulators of the output's size
  /// added in chunk order (C ≤ 16, chosen from nnz and the output's length so that the
  /// accumulators cost at most 1/8 of the scatter's work); C = 1 is the serial scatter.
  chunked
};

namespace detail {

/// Number of OpenMP threads a parallel region would get (1 without OpenMP).
inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Minimum work (stored entries x columns) for which the kernels start threads.
constexpr Eigen::Index parallel_threshold = 100000;

/// Raw view of a compressed sparse matrix (either storage order, compressed or not).
template <class Scalar, class StorageIndex>
struct CompressedView {
  Eigen::Index outer_size = 0;
  const StorageIndex* outer = nullptr;   // outer_size + 1 starts
  const StorageIndex* counts = nullptr;  // entries per outer when uncompressed, else null
  const StorageIndex* inner = nullptr;
  const Scalar* values = nullptr;

  Eigen::Index begin(Eigen::Index o) const { return outer[o]; }
  Eigen::Index end(Eigen::Index o) const { return counts ? outer[o] + counts[o] : outer[o + 1]; }
  Eigen::Index span() const { return outer[outer_size] - outer[0]; }
};

template <class SparseType>
auto view_of(const SparseType& A) {
  using Scalar = typename SparseType::Scalar;
  using StorageIndex = typename SparseType::StorageIndex;
  CompressedView<std::remove_const_t<Scalar>, std::remove_const_t<StorageIndex>> v;
  v.outer_size = A.outerSize();
  v.outer = A.outerIndexPtr();
  v.counts = A.isCompressed() ? nullptr : A.innerNonZeroPtr();
  v.inner = A.innerIndexPtr();
  v.values = A.valuePtr();
  return v;
}

/// Outer range [lo, hi) of thread t of T: blocks of about equal number of stored entries.
template <class View>
void thread_range(const View& S, int t, int T, Eigen::Index& lo, Eigen::Index& hi) {
  const auto* first = S.outer;
  const auto* last = S.outer + S.outer_size;
  auto split = [&](int q) -> Eigen::Index {
    if (q <= 0) return 0;
    if (q >= T) return S.outer_size;
    const Eigen::Index target = S.outer[0] + S.span() * q / T;
    return std::lower_bound(first, last, target) - first;
  };
  lo = split(t), hi = split(t + 1);
}

template <bool Conj, class Scalar>
Scalar maybe_conj(const Scalar& a) {
  if constexpr (Conj) {
    return Eigen::numext::conj(a);
  } else {
    return a;
  }
}

/// Runs body(t, T) on a team of T OpenMP threads, t = 0..T−1, when `parallel`, else body(0, 1)
/// on the calling thread. The body may hold `#pragma omp barrier` (bound to this region).
template <class Body>
void in_parallel(bool parallel, Body&& body) {
#ifdef _OPENMP
#pragma omp parallel if (parallel)
  body(omp_get_thread_num(), omp_get_num_threads());
#else
  (void)parallel;
  body(0, 1);
#endif
}

/// Thread t of T's share of the interleaving out(r·k + c) = X(r, c) of a rows x k block X with
/// leading dimension ldx: the k values an entry of A needs become adjacent, so A is read once.
template <class Scalar>
void interleave(const Scalar* X, Eigen::Index ldx, Eigen::Index rows, Eigen::Index k, Scalar* out,
                int t, int T) {
  const Eigen::Index chunk = (rows + T - 1) / T;
  const Eigen::Index lo = std::min(rows, chunk * t), hi = std::min(rows, lo + chunk);
  for (Eigen::Index r = lo; r < hi; ++r)
    for (Eigen::Index c = 0; c < k; ++c) out[r * k + c] = X[r + c * ldx];
}

/// Calls f(width, c0) for panels of columns [c0, c0 + width) covering 0..k−1, widths 8, 4, 2, 1
/// as compile-time constants (std::integral_constant): the block kernels hold a panel of one row
/// in registers as a fixed-size Eigen array, which Eigen vectorizes across the columns. Each
/// column's sum keeps its own order, so the panels do not change any column's bits.
template <class F>
void for_column_panels(Eigen::Index k, F&& f) {
  Eigen::Index c0 = 0;
  for (; c0 + 8 <= k; c0 += 8) f(std::integral_constant<int, 8>(), c0);
  if (c0 + 4 <= k) f(std::integral_constant<int, 4>(), c0), c0 += 4;
  if (c0 + 2 <= k) f(std::integral_constant<int, 2>(), c0), c0 += 2;
  if (c0 < k) f(std::integral_constant<int, 1>(), c0);
}

/// Gather: Y(o, c) = Σ_e op(value_e) X(inner_e, c) over the entries e of outer o, in storage
/// order starting from 0 (op = conj when Conj). X is inner_size x k with leading dimension ldx,
/// Y outer_size x k with leading dimension ldy; `work` holds inner_size * k scalars when k > 1.
template <bool Conj, class Scalar, class StorageIndex>
void gather_product(const CompressedView<Scalar, StorageIndex>& S, Eigen::Index inner_size,
                    const Scalar* X, Eigen::Index ldx, Eigen::Index k, Scalar* Y, Eigen::Index ldy,
                    Scalar* work) {
  using Index = Eigen::Index;
  if (k == 0) return;
  const bool parallel = max_threads() > 1 && S.span() * k >= parallel_threshold;
  in_parallel(parallel, [&](int t, int T) {
    if (k == 1) {
      Index lo, hi;
      thread_range(S, t, T, lo, hi);
      for (Index o = lo; o < hi; ++o) {
        Scalar sum(0);
        for (Index e = S.begin(o); e < S.end(o); ++e)
          sum += maybe_conj<Conj>(S.values[e]) * X[S.inner[e]];
        Y[o] = sum;
      }
    } else {
      interleave(X, ldx, inner_size, k, work, t, T);
#ifdef _OPENMP
#pragma omp barrier
#endif
      Index lo, hi;
      thread_range(S, t, T, lo, hi);
      for (Index o = lo; o < hi; ++o)
        for_column_panels(k, [&](auto width, Index c0) {
          using Panel = Eigen::Array<Scalar, decltype(width)::value, 1>;
          Panel acc = Panel::Zero();
          for (Index e = S.begin(o); e < S.end(o); ++e)
            acc += maybe_conj<Conj>(S.values[e]) *
                   Eigen::Map<const Panel>(work + static_cast<Index>(S.inner[e]) * k + c0);
          for (Index c = 0; c < acc.size(); ++c) Y[o + (c0 + c) * ldy] = acc[c];
        });
    }
  });
}

/// The chunks of the chunked scatter over S (output length inner_size): C + 1 outer positions,
/// C the largest power of two ≤ 16 with C · inner_size ≤ nnz / 8 (so that filling and adding
/// the accumulators costs at most an eighth of the scatter itself), chunk q holding the outers
/// from which about q/C of the stored entries on. Counted over the stored entries, not the
/// storage, so a compressed A and an uncompressed one with free slots get the same chunks.
template <class View>
std::vector<Eigen::Index> scatter_chunks(const View& S, Eigen::Index inner_size) {
  using Index = Eigen::Index;
  Index nnz = 0;
  for (Index o = 0; o < S.outer_size; ++o) nnz += S.end(o) - S.begin(o);
  Index C = 1;
  while (C < 16 && 2 * C * inner_size * 8 <= nnz) C *= 2;
  std::vector<Index> bounds(static_cast<std::size_t>(C + 1), S.outer_size);
  bounds[0] = 0;
  Index seen = 0, q = 1;
  for (Index o = 0; o < S.outer_size && q < C; ++o) {
    while (q < C && seen >= nnz * q / C) bounds[static_cast<std::size_t>(q++)] = o;
    seen += S.end(o) - S.begin(o);
  }
  return bounds;
}

/// Chunks per round of the chunked scatter, and so the accumulators it holds besides the total:
/// all C for one right-hand side on several threads (one round, two synchronizations), else one
/// per thread, reused from round to round, so that the accumulators of a k-column block
/// (inner_size x k each) stay in cache instead of C of them being filled and read back.
inline Eigen::Index scatter_round(Eigen::Index k, Eigen::Index C, int threads) {
  return k == 1 && threads > 1 ? C : std::min<Eigen::Index>(threads, C);
}

/// Scatter in chunks: Y(inner_e, c) = Σ over chunks q = 0..C−1, in order, of the scatter of
/// chunk q's outer range [bounds[q], bounds[q + 1]) in increasing outer order, started from 0.
/// The chunks run in rounds of P = `round` chunks (q = rP .. rP + P − 1); in a round the threads
/// scatter its chunks into P accumulators (chunk 0 into the total), then add them to the total
/// in chunk order, so every output entry is ((p₀ + p₁) + p₂) + … whatever P and the thread
/// count: the bits depend on the chunks only. C = 1 (bounds 0, outer_size) is the serial scatter in
/// storage order. For k > 1 the accumulators are k-interleaved, so that A is read once; X is read
/// in place (a row's k values once per row of A, not per entry, so no interleaved copy of the long
/// input is worth making). `work` holds scatter_workspace(inner_size, k, round) scalars.
template <bool Conj, class Scalar, class StorageIndex>
void scatter_product(const CompressedView<Scalar, StorageIndex>& S, Eigen::Index inner_size,
                     const Scalar* X, Eigen::Index ldx, Eigen::Index k, Scalar* Y, Eigen::Index ldy,
                     const Eigen::Index* bounds, Eigen::Index C, Eigen::Index round, Scalar* work) {
  using Index = Eigen::Index;
  if (k == 0) return;
  const Index size = inner_size * k;  // of one accumulator
  Scalar* total = k == 1 ? Y : work;  // chunk 0's accumulator, the sum
  Scalar* slot0 = k == 1 ? work : work + size;
  auto accumulator = [&](Index q) { return q == 0 ? total : slot0 + q % round * size; };
  const bool parallel = max_threads() > 1 && C > 1 && S.span() * k >= parallel_threshold;
  in_parallel(parallel, [&](int t, int T) {
    const Index ilo = inner_size * t / T, ihi = inner_size * (t + 1) / T;
    for (Index first = 0; first < C; first += round) {
      const Index last = std::min(C, first + round);
      for (Index q = first + t; q < last; q += T) {
        Scalar* acc = accumulator(q);
        std::fill(acc, acc + size, Scalar(0));
        for (Index o = bounds[q]; o < bounds[q + 1]; ++o) {
          if (k == 1) {
            const Scalar xo = X[o];
            for (Index e = S.begin(o); e < S.end(o); ++e)
              acc[S.inner[e]] += maybe_conj<Conj>(S.values[e]) * xo;
          } else {
            for_column_panels(k, [&](auto width, Index c0) {
              using Panel = Eigen::Array<Scalar, decltype(width)::value, 1>;
              const Panel x = Eigen::Map<const Panel, 0, Eigen::InnerStride<>>(
                  X + o + c0 * ldx, Eigen::InnerStride<>(ldx));
              for (Index e = S.begin(o); e < S.end(o); ++e)
                Eigen::Map<Panel>(acc + static_cast<Index>(S.inner[e]) * k + c0) +=
                    maybe_conj<Conj>(S.values[e]) * x;
            });
          }
        }
      }
      if (C == 1) break;  // the serial scatter: nothing to add
#ifdef _OPENMP
#pragma omp barrier
#endif
      for (Index q = std::max<Index>(first, 1); q < last; ++q) {
        const Scalar* acc = accumulator(q);
        for (Index i = ilo * k; i < ihi * k; ++i) total[i] += acc[i];
      }
#ifdef _OPENMP
#pragma omp barrier
#endif
    }
    if (k > 1)  // de-interleave
      for (Index c = 0; c < k; ++c)
        for (Index i = ilo; i < ihi; ++i) Y[i + c * ldy] = total[i * k + c];
  });
}

/// Scalars of workspace scatter_product needs for rounds of `round` chunks.
inline Eigen::Index scatter_workspace(Eigen::Index inner_size, Eigen::Index k, Eigen::Index round) {
  return k == 1 ? round * inner_size : (round + 1) * inner_size * k;
}

template <class Out>
constexpr bool is_direct_col_major() {
  using T = std::decay_t<Out>;
  constexpr int flags = Eigen::internal::traits<T>::Flags;
  return (flags & Eigen::DirectAccessBit) &&
         (!(flags & Eigen::RowMajorBit) || T::ColsAtCompileTime == 1) &&
         T::InnerStrideAtCompileTime == 1;
}

/// The products of the sparse operators, for a Derived class that provides `matrix()` (the
/// compressed matrix the operator reads) and calls choose() once it can.
template <class Derived, class Scalar_, class StorageIndex, int Options>
class CompressedOperatorBase {
 public:
  using Scalar = Scalar_;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  static constexpr bool row_major = (Options & Eigen::RowMajorBit) != 0;
  /// The copy in the other storage order (CSC for a CSR matrix and vice versa).
  using Transposed =
      Eigen::SparseMatrix<Scalar, row_major ? Eigen::ColMajor : Eigen::RowMajor, StorageIndex>;

  /// Y = A V.
  template <class In, class Out>
  void apply(const In& V, Out&& Y) const {
    product<false>(V, Y);
  }

  /// Y = Aᴴ U.
  template <class In, class Out>
  void apply_adjoint(const In& U, Out&& Y) const {
    product<true>(U, Y);
  }

  /// True when the operator holds a copy of A in the other storage order.
  bool has_transposed_copy() const { return transposed_.has_value(); }

  /// The kernel of the product against the storage order: the one asked for, or what
  /// `automatic` resolves to now (at each product, since the thread count may change).
  TransposedProduct transposed_product() const {
    if (how_ != TransposedProduct::automatic) return how_;
    const auto& A = self().matrix();
    if (A.innerSize() <= A.outerSize()) return TransposedProduct::chunked;
    return max_threads() > 1 ? TransposedProduct::copy : TransposedProduct::scatter;
  }

 protected:
  /// Records the kernel choice; an explicit `copy` is made now, `automatic`'s at first use.
  void choose(TransposedProduct how) {
    how_ = how;
    if (how == TransposedProduct::copy) transposed_.emplace(self().matrix());
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }

  template <bool Adjoint, class In, class Out>
  void product(const In& X, Out& Y) const {
    using Ref = Eigen::Ref<Matrix, 0, Eigen::OuterStride<>>;
    using ConstRef = Eigen::Ref<const Matrix, 0, Eigen::OuterStride<>>;
    const ConstRef Xr(X);
    using Plain = std::decay_t<Out>;
    if constexpr (std::is_base_of<Eigen::PlainObjectBase<Plain>, Plain>::value) {
      const auto& A = self().matrix();
      Y.resize(Adjoint ? A.cols() : A.rows(), Xr.cols());  // a plain target is sized, as by `=`
    }
    if constexpr (is_direct_col_major<Out>()) {
      Ref Yr(Y);
      run<Adjoint>(Xr, Yr);
    } else {
      Matrix out(Y.rows(), Y.cols());
      Ref Yr(out);
      run<Adjoint>(Xr, Yr);
      Y = out;
    }
  }

  template <bool Adjoint, class ConstRef, class Ref>
  void run(const ConstRef& X, Ref& Y) const {
    const auto& A = self().matrix();
    const Eigen::Index k = X.cols();
    eigen_assert(Y.cols() == k);
    eigen_assert(X.rows() == (Adjoint ? A.rows() : A.cols()));
    eigen_assert(Y.rows() == (Adjoint ? A.cols() : A.rows()));
    if (k == 0) return;
    // Along the storage order: gather over A. Against it: see TransposedProduct.
    constexpr bool along = Adjoint != row_major;
    if constexpr (along) {
      gather_product<Adjoint>(view_of(A), A.innerSize(), X.data(), X.outerStride(), k, Y.data(),
                              Y.outerStride(), workspace(A.innerSize() * k));
      return;
    }
    const TransposedProduct how = transposed_product();
    if (how == TransposedProduct::copy) {
      if (!transposed_) transposed_.emplace(A);
      const auto& T = *transposed_;
      gather_product<Adjoint>(view_of(T), T.innerSize(), X.data(), X.outerStride(), k, Y.data(),
                              Y.outerStride(), workspace(T.innerSize() * k));
      return;
    }
    const auto S = view_of(A);
    const Eigen::Index serial[2] = {0, A.outerSize()};  // scatter: one chunk
    const Eigen::Index* bounds = serial;
    Eigen::Index C = 1;
    if (how == TransposedProduct::chunked) {
      if (chunks_.empty()) chunks_ = scatter_chunks(S, A.innerSize());
      bounds = chunks_.data(), C = static_cast<Eigen::Index>(chunks_.size()) - 1;
    }
    const Eigen::Index round = scatter_round(k, C, max_threads());
    const Eigen::Index size = scatter_workspace(A.innerSize(), k, round);
    scatter_product<Adjoint>(S, A.innerSize(), X.data(), X.outerStride(), k, Y.data(),
                             Y.outerStride(), bounds, C, round,
                             size > 0 ? workspace(size) : nullptr);
  }

  Scalar* workspace(Eigen::Index size) const {
    if (static_cast<Eigen::Index>(work_.size()) < size)
      work_.resize(static_cast<std::size_t>(size));
    return work_.data();
  }

  TransposedProduct how_ = TransposedProduct::automatic;
  mutable std::optional<Transposed> transposed_;
  mutable std::vector<Eigen::Index> chunks_;  // the chunked scatter's, made at its first use
  mutable std::vector<Scalar> work_;
};

}  // namespace detail

/// Operator over an Eigen sparse matrix (SparseMatrix in either storage order, or a Map of
/// one). Holds a reference: the matrix must outlive the operator.
template <class SparseType>
class SparseOperator
    : public detail::CompressedOperatorBase<
          SparseOperator<SparseType>, std::remove_const_t<typename SparseType::Scalar>,
          std::remove_const_t<typename SparseType::StorageIndex>, SparseType::Flags> {
  using Base = detail::CompressedOperatorBase<
      SparseOperator<SparseType>, std::remove_const_t<typename SparseType::Scalar>,
      std::remove_const_t<typename SparseType::StorageIndex>, SparseType::Flags>;
  friend Base;

 public:
  using Scalar = typename Base::Scalar;

  explicit SparseOperator(const SparseType& A, TransposedProduct how = TransposedProduct::automatic)
      : A_(A) {
    Base::choose(how);
  }

  Eigen::Index rows() const { return A_.rows(); }
  Eigen::Index cols() const { return A_.cols(); }
  const SparseType& matrix() const { return A_; }

 private:
  const SparseType& A_;
};

/// Operator over a CooMatrix: holds a CSR copy with duplicates summed (O(nnz) memory), made
/// once so that every product afterwards runs at CSR speed.
template <class Scalar_, class StorageIndex>
class CooOperator : public detail::CompressedOperatorBase<CooOperator<Scalar_, StorageIndex>,
                                                          Scalar_, StorageIndex, Eigen::RowMajor> {
  using Base = detail::CompressedOperatorBase<CooOperator<Scalar_, StorageIndex>, Scalar_,
                                              StorageIndex, Eigen::RowMajor>;
  friend Base;

 public:
  using Scalar = Scalar_;
  using Csr = Eigen::SparseMatrix<Scalar, Eigen::RowMajor, StorageIndex>;

  explicit CooOperator(const CooMatrix<Scalar, StorageIndex>& A,
                       TransposedProduct how = TransposedProduct::automatic)
      : csr_(to_csr(A)) {
    Base::choose(how);
  }

  Eigen::Index rows() const { return csr_.rows(); }
  Eigen::Index cols() const { return csr_.cols(); }
  const Csr& matrix() const { return csr_; }

 private:
  Csr csr_;
};

/// Aᴴ as an operator over A (no copy): used to solve the transposed system of the backward pass.
template <class Operator>
class AdjointOperator {
 public:
  using Scalar = typename Operator::Scalar;

  explicit AdjointOperator(const Operator& op) : op_(op) {}

  Eigen::Index rows() const { return op_.cols(); }
  Eigen::Index cols() const { return op_.rows(); }

  template <class In, class Out>
  void apply(const In& V, Out&& Y) const {
    op_.apply_adjoint(V, std::forward<Out>(Y));
  }

  template <class In, class Out>
  void apply_adjoint(const In& U, Out&& Y) const {
    op_.apply(U, std::forward<Out>(Y));
  }

 private:
  const Operator& op_;
};

/// A non-owning, type-erased reference to any operator (rows(), cols(), apply(), apply_adjoint()
/// on Eigen blocks). The Krylov kernels run on it, so they are compiled once per scalar type
/// rather than once per operator type (CSR, CSC, Map, COO, their adjoints, preconditioned
/// forms and user operators); the indirection costs one call per product. The referenced
/// operator must outlive it.
template <class Scalar_>
class OperatorRef {
 public:
  using Scalar = Scalar_;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using In = Eigen::Ref<const Matrix, 0, Eigen::OuterStride<>>;
  using Out = Eigen::Ref<Matrix, 0, Eigen::OuterStride<>>;

  template <class Operator>
  explicit OperatorRef(const Operator& op)
      : op_(&op),
        rows_(op.rows()),
        cols_(op.cols()),
        apply_(&call<Operator, false>),
        apply_adjoint_(&call<Operator, true>) {}

  Eigen::Index rows() const { return rows_; }
  Eigen::Index cols() const { return cols_; }

  /// Y = A V.
  template <class InBlock, class OutBlock>
  void apply(const InBlock& V, OutBlock&& Y) const {
    Out out(Y);
    apply_(op_, In(V), out);
  }

  /// Y = Aᴴ U.
  template <class InBlock, class OutBlock>
  void apply_adjoint(const InBlock& U, OutBlock&& Y) const {
    Out out(Y);
    apply_adjoint_(op_, In(U), out);
  }

 private:
  template <class Operator, bool Adjoint>
  static void call(const void* op, const In& in, Out& out) {
    const auto& o = *static_cast<const Operator*>(op);
    if constexpr (Adjoint) {
      o.apply_adjoint(in, out);
    } else {
      o.apply(in, out);
    }
  }

  const void* op_;
  Eigen::Index rows_, cols_;
  void (*apply_)(const void*, const In&, Out&);
  void (*apply_adjoint_)(const void*, const In&, Out&);
};

/// The operator for any A that sparsegrad accepts.
template <class Scalar, class StorageIndex>
CooOperator<Scalar, StorageIndex> make_operator(
    const CooMatrix<Scalar, StorageIndex>& A,
    TransposedProduct how = TransposedProduct::automatic) {
  return CooOperator<Scalar, StorageIndex>(A, how);
}

template <class Scalar, int Options, class StorageIndex>
SparseOperator<Eigen::SparseMatrix<Scalar, Options, StorageIndex>> make_operator(
    const Eigen::SparseMatrix<Scalar, Options, StorageIndex>& A,
    TransposedProduct how = TransposedProduct::automatic) {
  return SparseOperator<Eigen::SparseMatrix<Scalar, Options, StorageIndex>>(A, how);
}

template <class MatrixType>
SparseOperator<Eigen::Map<MatrixType>> make_operator(
    const Eigen::Map<MatrixType>& A, TransposedProduct how = TransposedProduct::automatic) {
  return SparseOperator<Eigen::Map<MatrixType>>(A, how);
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_OPERATOR_HPP
