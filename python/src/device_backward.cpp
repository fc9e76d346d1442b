// SPDX-License-Identifier: Apache-2.0
// The backward pass of the PyTorch device path: sparsegrad::detail::AdjointEngine (adjoint.hpp,
// the engine every backend runs, with all its decisions: the rank and trust contract, the error
// estimates, the refinement of X, the gradient gate) on a backend whose blocks are torch tensors
// on the tensors' device, the vector work done there by sparsegrad/_device.py's _Algebra. The
// solver's solve_normal is CRAIG on that device: DeviceCraig32/64 takes CRAIG's decisions with
// the C++ kernel's own per-column steps (krylov/craig.hpp: CraigScalars start, after_beta, gate,
// after_alpha, after_update, in craig_kernel's order) from the norms of an iteration, which
// reach the host in one transfer per iteration.
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <sparsegrad/sparsegrad.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "device.hpp"
#include "diagnostics.hpp"
#include "options.hpp"
#include "solver.hpp"

namespace sparsegrad_python {
namespace {

using Index = Eigen::Index;
using sparsegrad::detail::concat;
constexpr const char* craig_where = "Lsmr::solve_normal";

/// CRAIG's decisions for H = (AᴴA + λ²I)⁻¹G (n x k) in the working precision Real, the vectors
/// on the device. The order of one iteration i, for the running columns:
///   device: βu = Aᴴv − αu (+ λ vs), αv = A u − βv (and vs), the norms of H and D H, ‖p‖ of the
///           last update; one transfer of these 5 numbers per column
///   here:   after_update(‖p‖) of iteration i − 1, after_beta(β), gate(‖H‖, ‖D H‖), compaction,
///           after_alpha(α) (craig_kernel does the same steps, with the product A u after the
///           compaction: a column that stops at after_beta costs that one product more here)
///   device: p = (u − βp)/α, H += ζ p for the columns still running.
template <class Real>
class DeviceCraig {
 public:
  DeviceCraig(const sparsegrad::LsmrOptions<Real>& opt, Index m, Index n, Index k, bool narrowed)
      : opt_(opt), narrowed_(narrowed), scaling_(n, k) {
    opt_.check(craig_where);
    scaling_.plan(craig_where, m, n, opt_);
    rule_ = sparsegrad::detail::StoppingRule<Real>::from(
        opt_, m, n, 0.1 * opt_.gradient_tolerance_for(std::numeric_limits<Real>::epsilon()));
    rank_tol_ = rule_.trusted
                    ? Real(0)
                    : std::max(rule_.atol, std::sqrt(std::numeric_limits<Real>::epsilon()));
    stats_.resize(static_cast<std::size_t>(k));
    state_.resize(static_cast<std::size_t>(k));
  }

  DeviceScaling<Real>& scaling() { return scaling_; }
  py::array_t<double> set_rescaling(const Array<double>& normG) {
    return scaling_.set_rescaling(normG, !opt_.scipy_compatible);
  }
  bool rescaled() const { return scaling_.rescaled(); }
  /// λ of the solve on A D (craig_on_operator: λ max(D)).
  double damp() const { return opt_.damp > 0 ? double(opt_.damp * scaling_.weights().max) : 0.0; }

  /// β₁ = ‖g_j‖ and α₁ of each column. Returns (ζ₁ per column, 0 where H stays 0; the old
  /// positions of the running columns).
  py::tuple start(const Array<double>& normg, const Array<double>& alpha1) {
    std::vector<double> zeta(state_.size(), 0.0);
    for (std::size_t j = 0; j < state_.size(); ++j) {
      auto& c = state_[j];
      c.id = Index(j);
      if (normg.data()[j] == 0) {
        c.done = true;  // H = 0 exactly, istop 0
        c.error = c.error_image = 0;
        continue;
      }
      if (c.start(Real(normg.data()[j]), Real(alpha1.data()[j]), rule_.record_capacity()))
        zeta[j] = double(c.zeta);
    }
    active_ = Index(state_.size());
    const auto kept = compact(std::vector<double>(state_.size(), 0.0));  // H = 0 where done
    return py::make_tuple(to_array(zeta),
                          to_array(std::vector<std::int64_t>(kept.begin(), kept.end())));
  }

  /// One iteration's decisions from the running columns' β, α, ‖H_j‖, ‖D H_j‖ and ‖p‖ of the
  /// last update (empty at the first iteration). Returns (the old positions of the columns
  /// that still run; their (β, α, ζ) for p = (u − βp)/α, H += ζ p, a 3 x count array).
  py::tuple iterate(const Array<double>& beta, const Array<double>& alpha,
                    const Array<double>& normH, const Array<double>& normDH,
                    const Array<double>& normp) {
    ++itn_;
    const bool damped = opt_.damp != 0;
    const double dmax = rescaled() ? double(scaling_.weights().max) : 1.0;
    std::vector<double> nH(normH.data(), normH.data() + active_);
    for (Index p = 0; p < active_; ++p) {
      auto& c = state_[std::size_t(p)];
      if (normp.size() > 0) c.after_update(Real(normp.data()[p]));
      c.after_beta(Real(beta.data()[p]), itn_, rule_);
      const double h = normH.data()[p], dh = normDH.data()[p];
      c.gate(itn_, rule_, damped, dmax, [h, dh] { return std::pair<double, double>(h, dh); });
    }
    auto kept = compact(nH);
    std::vector<double> nH2;
    for (Index q = 0; q < active_; ++q) {
      const auto from = std::size_t(kept.at(q));
      state_[std::size_t(q)].after_alpha(Real(alpha.data()[from]), rank_tol_);
      nH2.push_back(nH[from]);
    }
    auto kept2 = compact(nH2);
    py::array_t<std::int64_t> keep(active_);
    py::array_t<double> coef({Index(3), active_});
    auto o = coef.mutable_unchecked<2>();
    for (Index q = 0; q < active_; ++q) {
      keep.mutable_data()[q] = kept.at(kept2.at(q));
      const auto& c = state_[std::size_t(q)];
      o(0, q) = double(c.beta), o(1, q) = double(c.alpha), o(2, q) = double(c.zeta);
    }
    return py::make_tuple(keep, coef);
  }

  Index active() const { return active_; }

  /// After the run, with ‖H_j‖ of the result (H = D H̃ / c): the diagnostics as
  /// craig_on_operator gives them, then Lsmr::solve_normal's checks (require_normal_solved).
  void finish(const std::vector<double>& normx) {
    if (rescaled())
      for (std::size_t j = 0; j < normx.size(); ++j) stats_.normx[j] = normx[j];
    if (narrowed_)  // H rounded back to float (detail::narrowed)
      sparsegrad::detail::add_rounding(stats_, double(Eigen::NumTraits<float>::epsilon()));
    sparsegrad::detail::require_normal_solved(craig_where, opt_, scaling_.weights(), stats_);
  }

  const sparsegrad::Diagnostics& stats() const { return stats_; }
  const sparsegrad::detail::ColumnWeights<Real>& weights() const { return scaling_.weights(); }

 private:
  /// Records the finished columns (‖H_j‖ from `normH`, by position) and moves the running ones
  /// to the front; returns the old positions of the running ones.
  std::vector<Index> compact(const std::vector<double>& normH) {
    std::vector<Index> from(static_cast<std::size_t>(active_));
    for (std::size_t p = 0; p < from.size(); ++p) from[p] = Index(p);
    for (Index p = 0; p < active_; ++p) state_[std::size_t(p)].normx = Real(normH[std::size_t(p)]);
    active_ = sparsegrad::detail::compact_states(
        state_, active_,
        [&](sparsegrad::detail::CraigScalars<Real>& c) {
          sparsegrad::detail::record(stats_, c, itn_);
        },
        [&](Index to, Index old) { from[std::size_t(to)] = from[std::size_t(old)]; });
    from.resize(static_cast<std::size_t>(active_));
    return from;
  }

  sparsegrad::LsmrOptions<Real> opt_;
  bool narrowed_;
  DeviceScaling<Real> scaling_;
  sparsegrad::detail::StoppingRule<Real> rule_;
  Real rank_tol_ = 0;
  std::vector<sparsegrad::detail::CraigScalars<Real>> state_;
  sparsegrad::Diagnostics stats_;
  Index active_ = 0;
  int itn_ = 0;
};

/// A block of k vectors on the device (a 2-D torch tensor), with its column norms once they
/// have been asked for (one transfer for all k).
struct DeviceBlock {
  py::object t;
  Index cols_ = 0;
  mutable std::shared_ptr<std::vector<double>> norms;
  Index cols() const { return cols_; }
};

/// What the solvers receive as A: the matrix lives in the _Algebra object.
struct DeviceMatrix {};

/// The engine's backend on the device (see the file comment): every member is one call of the
/// Python _Algebra `alg`, whose tensors stay on the device; sizes and norms come back.
template <class Scalar_>
class DeviceAdjointBackend {
 public:
  using Scalar = Scalar_;
  using Real = Scalar;
  using AType = DeviceMatrix;
  using Block = DeviceBlock;
  static constexpr const char* where = "lstsq_backward";

  DeviceAdjointBackend(py::object alg, Index m, Index n, Index k)
      : alg_(std::move(alg)),
        m_(m),
        n_(n),
        k_(k),
        B_(block(alg_.attr("B"))),
        X_(block(alg_.attr("X"))),
        dX_(block(alg_.attr("dX"))) {}

  Index m() const { return m_; }
  Index n() const { return n_; }
  Index k() const { return k_; }
  const Block& B() const { return B_; }
  const Block& X() const { return X_; }
  const Block& dX() const { return dX_; }

  static Block block(py::object t) {
    const auto cols = t.attr("shape").cast<py::tuple>()[1].cast<Index>();
    return Block{std::move(t), cols, nullptr};
  }
  Block call(const char* name, const Block& a) const { return block(alg_.attr(name)(a.t)); }

  Block apply(const Block& V) const { return call("apply", V); }
  Block apply_adjoint(const Block& U) const { return call("apply_adjoint", U); }
  Block minus(const Block& a, const Block& b) const { return block(a.t.attr("__sub__")(b.t)); }
  Block scaled(const Block& a, Real s) const { return block(a.t.attr("__mul__")(double(s))); }
  Block join(std::initializer_list<const Block*> parts) const {
    py::list list;
    for (const Block* p : parts) list.append(p->t);
    return block(alg_.attr("join")(list));
  }
  Block slice(const Block& Y, Index first, Index count) const {
    return block(alg_.attr("slice")(Y.t, first, count));
  }
  static Index columns(const Block& Y) { return Y.cols(); }
  Real norm(const Block& Y, Index j) const {
    if (!Y.norms)
      Y.norms = std::make_shared<std::vector<double>>(
          alg_.attr("norms")(Y.t).template cast<std::vector<double>>());
    return Real(Y.norms->at(std::size_t(j)));
  }
  Real dot_re(const Block& a, const Block& b) const {
    return Real(alg_.attr("dot")(a.t, b.t).template cast<double>());
  }
  Block zeros_m(Index k) const { return block(alg_.attr("zeros_m")(k)); }
  const Block& probe() {
    if (!probe_.t) probe_ = block(alg_.attr("probe")());
    return probe_;
  }
  Real norm_A() {
    if (norm_A_ < 0) norm_A_ = alg_.attr("norm_A")().template cast<double>();
    return Real(norm_A_);
  }

  template <class Solver>
  Block solve_normal(Solver& solver, const Block& G) const {
    return solver.solve_normal(DeviceMatrix{}, G);
  }
  /// The wide backward's solve with A Aᴴ: the PyTorch front end refuses a wide A before the
  /// backward (as the seed does), so this is never reached from it.
  template <class Solver>
  Block solve_row_normal(Solver&, const Block&) const {
    sparsegrad::detail::throw_invalid(where, "A", "a tall or square A on the device path",
                                      sparsegrad::detail::shape_string(m_, n_));
  }

  Block residual() const { return block(alg_.attr("residual")()); }
  Block normal_residual() const { return block(alg_.attr("normal_residual")()); }
  /// X + ΔX in the working precision, kept rounded; returns its residual (see the Eigen backend).
  Block refine_solution(const Block& dXs) {
    const py::tuple out = alg_.attr("refine")(dXs.t).template cast<py::tuple>();
    X_ = block(out[0]);
    return block(out[1]);
  }

  std::vector<double> pattern_row_max(const Block& Y) const { return pattern_max(Y, true); }
  std::vector<double> pattern_col_max(const Block& U) const { return pattern_max(U, false); }
  std::vector<double> abs_product_norms(const Block& H) const {
    return alg_.attr("abs_product_norms")(H.t).template cast<std::vector<double>>();
  }

  template <class Grads>
  double gradient_norm(const Grads& g) const {
    return alg_.attr("vector_norm")(g.A).template cast<double>();
  }

  /// dA on A's pattern (values in A's entry order, a device tensor) and dB, refusing an
  /// unrepresentable gradient as the Eigen backend does.
  auto assemble(sparsegrad::detail::AdjointTerms<Block, Real>&& t) const {
    py::object none = py::none();
    const py::tuple out =
        alg_.attr("assemble")(t.dB.cols() == k_ ? t.dB.t : none, X_.t, t.with_H ? t.R.t : none,
                              t.with_H ? t.H.t : none, t.with_null_space ? t.W.t : none,
                              t.with_null_space ? t.V.t : none)
            .template cast<py::tuple>();
    if (!out[2].is_none()) {
      const auto bad = out[2].cast<py::tuple>();
      sparsegrad::detail::throw_unrepresentable(where, bad[0].cast<std::string>().c_str(),
                                                bad[1].cast<double>(), bad[2].cast<Index>(),
                                                bad[3].cast<Index>());
    }
    if (!std::isfinite(double(t.ddamp)))
      sparsegrad::detail::throw_unrepresentable(where, "dL/ddamp", double(t.ddamp), 0, 0);
    sparsegrad::LstsqGrads<py::object, Block, Real> g;
    g.A = out[0], g.B = block(out[1]), g.damp = t.ddamp;
    return g;
  }

 private:
  std::vector<double> pattern_max(const Block& Y, bool by_row) const {
    return alg_.attr("pattern_max")(Y.t, by_row).template cast<std::vector<double>>();
  }

  py::object alg_;
  Index m_, n_, k_;
  Block B_, X_, dX_, probe_;
  double norm_A_ = -1;
};

/// Lsmr on the device: its options (the traits read damp, atol, btol, throw_on_failure from
/// them, as from Lsmr's), solve_normal by CRAIG on the device and solution_error with
/// Lsmr's bounds (solution_error_bounds).
template <class Scalar>
class DeviceLsmrSolver {
 public:
  using RealScalar = Scalar;
  sparsegrad::LsmrOptions<Scalar> options;

  DeviceLsmrSolver(sparsegrad::LsmrOptions<Scalar> opt, py::object alg,
                   std::vector<double> forward_error, py::object forward_X)
      : options(std::move(opt)),
        alg_(std::move(alg)),
        forward_error_(std::move(forward_error)),
        forward_X_(std::move(forward_X)) {}

  DeviceBlock solve_normal(const DeviceMatrix&, const DeviceBlock& G) {
    const Index m = alg_.attr("m").template cast<Index>();
    const Index n = alg_.attr("n").template cast<Index>();
    // Float data in double unless scipy_compatible (craig_on_operator's mixed precision).
    if constexpr (std::is_same<Scalar, float>::value) {
      if (options.mixed_precision && !options.scipy_compatible) {
        options.check(craig_where);
        return run<double>(sparsegrad::detail::widened_options<double>(options), m, n, G, true);
      }
    }
    return run<Scalar>(options, m, n, G, false);
  }

  sparsegrad::SolutionError solution_error(const DeviceBlock& X, const DeviceBlock& S) const {
    const std::vector<double> normDS =
        alg_.attr("weighted_norms")(S.t, weights_d_).template cast<std::vector<double>>();
    const std::vector<double> normX = alg_.attr("norms")(X.t).template cast<std::vector<double>>();
    const bool own = !forward_error_.empty() && X.t.is(forward_X_);
    return sparsegrad::detail::solution_error_bounds<Scalar>(last_, dmax_, normDS, normX,
                                                             own ? &forward_error_ : nullptr);
  }

  const sparsegrad::Diagnostics& last_backward() const { return last_; }

 private:
  template <class Real>
  DeviceBlock run(const sparsegrad::LsmrOptions<Real>& opt, Index m, Index n, const DeviceBlock& G,
                  bool narrowed) {
    auto owner = std::make_unique<DeviceCraig<Real>>(opt, m, n, G.cols(), narrowed);
    DeviceCraig<Real>* core = owner.get();
    py::object handle = py::cast(std::move(owner));
    const py::tuple out = alg_.attr("craig")(handle, G.t, std::is_same<Real, double>::value)
                              .template cast<py::tuple>();
    const auto& w = core->weights();
    dmax_ = double(w.max);
    weights_d_ = py::none();
    if (w.scaled)
      weights_d_ =
          to_array(std::vector<double>(w.d.data(), w.d.data() + w.d.size()));  // for ‖D S_j‖
    core->finish(out[1].cast<std::vector<double>>());
    last_ = core->stats();
    return DeviceAdjointBackend<Scalar>::block(out[0]);
  }

  py::object alg_;
  std::vector<double> forward_error_;
  py::object forward_X_;
  sparsegrad::Diagnostics last_;
  double dmax_ = 1;
  py::object weights_d_ = py::none();
};

/// The backward on the device: (dA values in A's entry order, dB, dL/ddamp, the diagnostics
/// records, the failure messages of on_failure="warn").
template <class Scalar>
py::tuple device_lstsq_backward(py::object alg, const py::dict& kwargs, Index m, Index n, Index k,
                                std::vector<double> forward_error) {
  const Options o = options_from_python(kwargs);
  DeviceAdjointBackend<Scalar> backend(alg, m, n, k);
  DeviceLsmrSolver<Scalar> solver(lsmr_options<Scalar>(o), alg, std::move(forward_error),
                                  backend.X().t);
  auto g = sparsegrad::detail::AdjointEngine<DeviceAdjointBackend<Scalar>>(backend).run(solver);
  Report report;
  record_iterative(report, "normal-equation solve", o.solver, solver.last_backward());
  if (!std::isnan(g.error_A))
    report.solves.back().error_A = g.error_A, report.solves.back().error_B = g.error_B;
  py::list records;
  for (const auto& r : report.solves) records.append(to_python(r));
  return py::make_tuple(g.A, g.B.t, double(g.damp), records, report.failures);
}

template <class Real>
void bind_device_craig(py::module_& m, const char* name) {
  using namespace pybind11::literals;
  using D = DeviceCraig<Real>;
  py::class_<D> cls(m, name, "The decisions of a CRAIG solve run on another device (internal).");
  bind_device_scaling(cls);
  cls.def("set_rescaling", &D::set_rescaling, "normG"_a)
      .def_property_readonly("rescaled", &D::rescaled)
      .def_property_readonly("damp", &D::damp)
      .def("start", &D::start, "normg"_a, "alpha1"_a)
      .def("iterate", &D::iterate, "beta"_a, "alpha"_a, "normH"_a, "normDH"_a, "normp"_a)
      .def_property_readonly("active", &D::active);
}

}  // namespace

}  // namespace sparsegrad_python

namespace sparsegrad {
/// The device Lsmr has Lsmr's traits (the rank decided by CRAIG, the gradient gate).
template <class Scalar>
struct solver_traits<sparsegrad_python::DeviceLsmrSolver<Scalar>>
    : default_solver_traits<sparsegrad_python::DeviceLsmrSolver<Scalar>> {
  using Self = sparsegrad_python::DeviceLsmrSolver<Scalar>;
  static bool checks_rank(const Self& s) {
    return solver_traits<Lsmr<Scalar>>::checks_rank(Lsmr<Scalar>(s.options));
  }
  static double gradient_tolerance(const Self& s) {
    return solver_traits<Lsmr<Scalar>>::gradient_tolerance(Lsmr<Scalar>(s.options));
  }
};
}  // namespace sparsegrad

namespace sparsegrad_python {

void bind_device_backward(py::module_& m) {
  using namespace pybind11::literals;
  bind_device_craig<float>(m, "DeviceCraig32");
  bind_device_craig<double>(m, "DeviceCraig64");
  m.def("device_lstsq_backward32", &device_lstsq_backward<float>, "algebra"_a, "options"_a, "m"_a,
        "n"_a, "k"_a, "forward_error"_a);
  m.def("device_lstsq_backward64", &device_lstsq_backward<double>, "algebra"_a, "options"_a, "m"_a,
        "n"_a, "k"_a, "forward_error"_a);
  m.def(
      "rank_probe",
      [](Index m) {
        std::vector<double> v(static_cast<std::size_t>(m));
        for (Index i = 0; i < m; ++i) v[std::size_t(i)] = sparsegrad::detail::rank_probe_entry(i);
        return to_array(v);
      },
      "m"_a);
}

}  // namespace sparsegrad_python
