// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_PYTHON_DEVICE_HPP
#define SPARSEGRAD_PYTHON_DEVICE_HPP

// What the PyTorch device path's decision objects share (device.cpp: LSMR; device_backward.cpp:
// CRAIG and the adjoint engine): arrays to and from Python, and the column scaling of a Krylov
// solve whose vectors live on the device.

#include <algorithm>
#include <cstdint>
#include <sparsegrad/sparsegrad.hpp>
#include <string>
#include <vector>

#include "bindings.hpp"

namespace sparsegrad_python {

template <class T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
py::array_t<T> to_array(const std::vector<T>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

/// The column weights D and the right-hand sides' rescaling c of a Krylov solve whose vectors
/// live elsewhere, from norms computed there (krylov_weights_plan, planned_weights,
/// rescaling_for_norm: the C++ kernels' own rules).
template <class Real>
class DeviceScaling {
 public:
  DeviceScaling(Eigen::Index n, Eigen::Index k) : c_(static_cast<std::size_t>(k), 1.0) {
    weights_.d.setOnes(n);
  }

  /// The plan of an m x n matrix (krylov_weights_plan; throws for a column scaling that does
  /// not apply).
  void plan(const char* where, Eigen::Index m, Eigen::Index n,
            const sparsegrad::LsmrOptions<Real>& opt) {
    plan_ = sparsegrad::detail::krylov_weights_plan(where, m, n, opt, opt.column_scaling, true);
  }

  /// "columns", "uniform" or "none": what set_weights needs.
  std::string weights_plan() const {
    return plan_.columns ? "columns" : plan_.uniform ? "uniform" : "none";
  }

  /// D from the column norms computed on the device, ‖A e_j‖ = amax_j sqrt(sumsq_j) (amax_j the
  /// largest |a_ij|, sumsq_j the sum of (a_ij / amax_j)², so that nothing overflows there),
  /// and the counts of stored entries. Returns d (n).
  py::array_t<double> set_weights(const Array<double>& amax, const Array<double>& sumsq,
                                  const Array<std::int64_t>& nnz) {
    const auto n = static_cast<std::size_t>(weights_.d.size());
    std::vector<long double> norm2(n);
    std::vector<Eigen::Index> count(n);
    for (std::size_t j = 0; j < n; ++j) {
      const long double a = amax.data()[j];
      norm2[j] = a * a * static_cast<long double>(sumsq.data()[j]);
      count[j] = static_cast<Eigen::Index>(nnz.data()[j]);
    }
    weights_ = sparsegrad::detail::planned_weights<Real>(plan_, norm2, count);
    return to_array(std::vector<double>(weights_.d.data(), weights_.d.data() + weights_.d.size()));
  }

  /// Per column, the power of two c_j with c_j‖b_j‖ near 1 (column_rescaling) from the norms
  /// computed on the device; all ones unless `apply`. Returns c (k).
  py::array_t<double> set_rescaling(const Array<double>& norms, bool apply) {
    if (apply)
      for (std::size_t j = 0; j < c_.size(); ++j)
        c_[j] = double(sparsegrad::detail::rescaling_for_norm(Real(norms.data()[j])));
    return to_array(c_);
  }

  /// True when D or c is not the identity.
  bool rescaled() const {
    bool any = weights_.scaled;
    for (double c : c_) any = any || c != 1;
    return any;
  }

  const sparsegrad::detail::ColumnWeights<Real>& weights() const { return weights_; }
  double c(std::size_t j) const { return c_[j]; }

 private:
  sparsegrad::detail::WeightsPlan plan_;
  sparsegrad::detail::ColumnWeights<Real> weights_;
  std::vector<double> c_;
};

/// Binds DeviceScaling's members on a decision class D with `D::scaling()`.
template <class Class>
void bind_device_scaling(Class& cls) {
  using namespace pybind11::literals;
  using D = typename Class::type;
  cls.def_property_readonly("weights_plan", [](D& d) { return d.scaling().weights_plan(); })
      .def(
          "set_weights",
          [](D& d, const Array<double>& amax, const Array<double>& sumsq,
             const Array<std::int64_t>& nnz) { return d.scaling().set_weights(amax, sumsq, nnz); },
          "amax"_a, "sumsq"_a, "nnz"_a);
}

void bind_device_backward(py::module_& m);  // device_backward.cpp

}  // namespace sparsegrad_python

#endif  // SPARSEGRAD_PYTHON_DEVICE_HPP
