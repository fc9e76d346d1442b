// SPDX-License-Identifier: Apache-2.0
// sparsegrad._core.DeviceLsmr32 / DeviceLsmr64: every decision of an LSMR solve whose vectors
// live elsewhere. The PyTorch device path (sparsegrad/_device.py) keeps A, B and the Krylov
// vectors on the tensors' device and does the vector work there; it hands this object the
// few numbers each step produces (norms: one transfer per iteration) and gets back the
// coefficients of the next vector update and the stop decisions. The decisions are the
// library's own (krylov/lsmr.hpp: LsmrColumnSet, krylov_weights_plan, planned_weights), so the
// two paths cannot drift apart.
#include "device.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <sparsegrad/sparsegrad.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "diagnostics.hpp"
#include "options.hpp"
#include "solver.hpp"

namespace sparsegrad_python {
namespace {

using sparsegrad::detail::concat;
using Index = Eigen::Index;
constexpr const char* where = "Lsmr";

/// The library's options of a call for data stored as float (data_float32) or double.
template <class Data>
sparsegrad::LsmrOptions<Data> checked_options(const Options& o) {
  auto opt = lsmr_options<Data>(o);
  opt.check(where);
  return opt;
}

/// True when a solve of this call runs in double (float data: LsmrOptions::mixed_precision).
bool works_in_float64(const py::dict& kwargs, bool data_float32, bool has_preconditioner) {
  const Options o = options_from_python(kwargs);
  return !data_float32 || (!o.scipy_compatible && !has_preconditioner);
}

/// The decisions of one LSMR solve in the working precision Real (see the file comment).
template <class Real>
class DeviceLsmr {
 public:
  DeviceLsmr(const py::dict& kwargs, Index m, Index n, Index k, bool data_float32,
             py::object x0_shape, Index preconditioner_size)
      : o_(options_from_python(kwargs)), m_(m), n_(n), k_(k), narrowed_(false), scaling_(n, k) {
    // The checks of Lsmr::operator() and lsmr_on_operator, in their order.
    if (data_float32) {
      const auto opt = checked_options<float>(o_);
      narrowed_ = std::is_same<Real, double>::value;
      opt_ = sparsegrad::detail::converted_options<Real>(opt, where);
    } else {
      opt_ = sparsegrad::detail::converted_options<Real>(checked_options<double>(o_), where);
    }
    opt_.mixed_precision = false;
    if (!x0_shape.is_none()) {
      const auto shape = x0_shape.cast<std::pair<Index, Index>>();
      sparsegrad::detail::check_warm_start(where, shape.first, shape.second, m, n, opt_.damp);
      if (shape.first != n || shape.second != k)
        bad(where, "options.x0", sparsegrad::detail::shape_string(n, k),
            sparsegrad::detail::shape_string(shape.first, shape.second));
    }
    preconditioned_ = preconditioner_size >= 0;
    if (preconditioned_) {
      if (o_.column_scaling.value_or(false))
        bad(where, "options.preconditioner",
            "no preconditioner when options.column_scaling is set (one of the two)", "both");
      sparsegrad::detail::check_preconditioner(where, opt_, m, n, preconditioner_size);
    } else {
      scaling_.plan(where, m, n, opt_);
    }
  }

  DeviceScaling<Real>& scaling() { return scaling_; }

  /// Per column of B, c_j (DeviceScaling::set_rescaling), from the norms computed on the device.
  py::array_t<double> set_rescaling(const Array<double>& normB) {
    return scaling_.set_rescaling(normB, !opt_.scipy_compatible && !preconditioned_);
  }

  /// True when the solve runs on A D with B rescaled (x = x0 + D y / c); false: on A itself.
  bool rescaled() const { return !preconditioned_ && scaling_.rescaled(); }

  /// Column j of the Krylov start: ‖b_j‖, β₁, α₁ (arrays of k). Returns the columns whose x must
  /// be set to zero.
  py::array_t<bool> start(const Array<double>& normb, const Array<double>& beta1,
                          const Array<double>& alpha1) {
    const bool r = rescaled();
    const auto& w = scaling_.weights();
    const Real damp = r && opt_.damp > 0 ? opt_.damp * w.max : opt_.damp;
    const auto rule = sparsegrad::detail::StoppingRule<Real>::from(
        opt_, m_, n_, opt_.error_tolerance_for(std::numeric_limits<Real>::epsilon()));
    columns_.emplace(rule, damp, r ? double(w.max) : 1.0, k_, stats_);
    py::array_t<bool> zero(k_);
    for (Index j = 0; j < k_; ++j)
      zero.mutable_data()[j] =
          columns_->start(j, Real(normb.data()[j]), Real(beta1.data()[j]), Real(alpha1.data()[j]));
    return zero;
  }

  /// Records the finished columns. Returns, for each running column's new position, its old one.
  py::array_t<std::int64_t> compact() {
    return moved([&](auto&& move) { columns_->compact(move); });
  }
  /// The end of an iteration (see LsmrColumnSet::end_iteration); returns as compact().
  py::array_t<std::int64_t> end_iteration() {
    return moved([&](auto&& move) { columns_->end_iteration(move); });
  }

  bool running() const { return columns_->running(); }
  bool next() { return columns_->next(); }
  int itn() const { return columns_->itn(); }
  Index active() const { return columns_->active(); }

  /// The columns of B of the running columns.
  py::array_t<std::int64_t> ids() const {
    std::vector<std::int64_t> out(static_cast<std::size_t>(columns_->active()));
    for (Index p = 0; p < columns_->active(); ++p) out[std::size_t(p)] = columns_->id(p);
    return to_array(out);
  }

  /// The running columns' rotations for the new α, β: rows (a_hbar, a_x, a_h) of the update
  /// H̄ ← H + a_hbar H̄, X ← X + a_x H̄, H ← V + a_h H.
  py::array_t<double> step(const Array<double>& alpha, const Array<double>& beta) {
    const Index active = columns_->active();
    py::array_t<double> out({Index(3), active});
    auto o = out.mutable_unchecked<2>();
    for (Index p = 0; p < active; ++p) {
      const auto u = columns_->step(p, Real(alpha.data()[p]), Real(beta.data()[p]));
      o(0, p) = double(u.hbar), o(1, p) = double(u.x), o(2, p) = double(u.h);
    }
    return out;
  }

  /// The running columns' stop decisions after the update: ‖y_p‖ and ‖D y_p‖ (or ‖c x0 + D y‖).
  void decide(const Array<double>& normx, const Array<double>& normDy) {
    for (Index p = 0; p < columns_->active(); ++p) {
      const double dy = normDy.data()[p];
      columns_->decide(p, Real(normx.data()[p]), [dy] { return dy; });
    }
  }

  void finish() { columns_->finish(); }

  /// The diagnostics in the units of x (‖x_j‖ of the returned x), recorded; raises
  /// ConvergenceError for a failed column with on_failure="raise" (Lsmr's require_solved).
  void finalize(const Array<double>& normx) {
    const bool r = rescaled();
    for (std::size_t j = 0; j < stats_.size(); ++j) {
      if (r) stats_.normr[j] /= scaling_.c(j), stats_.normar[j] /= scaling_.c(j);
      if (r || preconditioned_) stats_.normx[j] = normx.data()[j];
    }
    // x rounded back to float (detail::narrowed)
    if (narrowed_)
      sparsegrad::detail::add_rounding(stats_, double(Eigen::NumTraits<float>::epsilon()));
    sparsegrad::detail::require_solved(where, "LSMR", stats_, opt_.throw_on_failure);
    record_iterative(report_, "solve", "lsmr", stats_);
  }

  py::list diagnostics() const {
    py::list out;
    for (const auto& r : report_.solves) out.append(to_python(r));
    return out;
  }
  std::vector<std::string> take_failures() { return std::exchange(report_.failures, {}); }

 private:
  template <class F>
  py::array_t<std::int64_t> moved(F&& compaction) {
    std::vector<std::int64_t> from(static_cast<std::size_t>(columns_->active()));
    for (std::size_t p = 0; p < from.size(); ++p) from[p] = std::int64_t(p);
    compaction([&](Index to, Index old) { from[std::size_t(to)] = from[std::size_t(old)]; });
    from.resize(static_cast<std::size_t>(columns_->active()));
    return to_array(from);
  }

  Options o_;
  Index m_, n_, k_;
  bool narrowed_, preconditioned_ = false;
  sparsegrad::LsmrOptions<Real> opt_;
  DeviceScaling<Real> scaling_;
  sparsegrad::Diagnostics stats_;
  std::optional<sparsegrad::detail::LsmrColumnSet<Real>> columns_;
  Report report_;
};

template <class Real>
void bind_device_lsmr(py::module_& m, const char* name) {
  using namespace pybind11::literals;
  using D = DeviceLsmr<Real>;
  py::class_<D> cls(m, name, "The decisions of an LSMR solve run on another device (internal).");
  bind_device_scaling(cls);
  cls.def(py::init<const py::dict&, Index, Index, Index, bool, py::object, Index>(), "options"_a,
          "m"_a, "n"_a, "k"_a, "data_float32"_a, "x0_shape"_a, "preconditioner_size"_a)
      .def("set_rescaling", &D::set_rescaling, "normB"_a)
      .def_property_readonly("rescaled", &D::rescaled)
      .def("start", &D::start, "normb"_a, "beta1"_a, "alpha1"_a)
      .def("compact", &D::compact)
      .def("end_iteration", &D::end_iteration)
      .def("running", &D::running)
      .def("next", &D::next)
      .def_property_readonly("itn", &D::itn)
      .def_property_readonly("active", &D::active)
      .def("ids", &D::ids)
      .def("step", &D::step, "alpha"_a, "beta"_a)
      .def("decide", &D::decide, "normx"_a, "normDy"_a)
      .def("finish", &D::finish)
      .def("finalize", &D::finalize, "normx"_a)
      .def_property_readonly("diagnostics", &D::diagnostics)
      .def("take_failures", &D::take_failures);
}

}  // namespace

void bind_device(py::module_& m) {
  using namespace pybind11::literals;
  bind_device_lsmr<float>(m, "DeviceLsmr32");
  bind_device_lsmr<double>(m, "DeviceLsmr64");
  m.def("device_works_in_float64", &works_in_float64, "options"_a, "data_float32"_a,
        "has_preconditioner"_a);
  m.def(
      "refuse_nonfinite",
      [](const std::string& name, double value, const std::string& position,
         const std::string& in) {
        bad(in.c_str(), name.c_str(), "finite values", concat(value, position));
      },
      "name"_a, "value"_a, "position"_a, "where"_a = where);
  bind_device_backward(m);
}

}  // namespace sparsegrad_python
