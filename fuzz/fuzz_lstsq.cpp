// libFuzzer target: arbitrary bytes -> a small least-squares problem (COO, CSR, CSC or Map;
// float or double; vector or matrix B; valid or subtly invalid) -> lstsq + lstsq_backward.
// See fuzz_support.hpp for the contract checked; build and run with scripts/run-fuzz.sh.
#include "fuzz_support.hpp"

namespace {

constexpr int kMaxDim = 12;  // small problems keep every run in microseconds
constexpr int kMaxEntries = 40;

template <class Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

template <class Plain>
Plain decode_dense(fuzz::Bytes& in, Eigen::Index rows, Eigen::Index cols) {
  Plain M(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) M(i, j) = in.value<typename Plain::Scalar>();
  return M;
}

/// Runs the problem with A in the format chosen by `format`, B and dX of type Plain.
template <class Scalar, class Plain>
void run_formats(fuzz::Bytes& in, const sparsegrad::CooMatrix<Scalar>& A, const Plain& B,
                 const Plain& dX, int format, bool default_solver) {
  sparsegrad::Lsmr<Scalar> solver(fuzz::bounded_options<Scalar>(in));
  if (format == 0) {
    const auto copy = A;
    fuzz::run_checked(A, B, dX, solver, default_solver);
    fuzz::require(fuzz::same_matrix(A, copy), "COO A unchanged");
    return;
  }
  // The Eigen formats need a valid COO to be built from; an invalid one is the COO's case.
  try {
    sparsegrad::validate(A);
  } catch (const std::invalid_argument&) {
    return;
  }
  if (format == 1 || format == 3) {
    const auto csr = sparsegrad::to_csr(A);
    const auto copy = csr;
    if (format == 1) {
      fuzz::run_checked(csr, B, dX, solver, default_solver);
    } else {
      using Csr = std::decay_t<decltype(csr)>;
      const Eigen::Map<const Csr> map(csr.rows(), csr.cols(), csr.nonZeros(), csr.outerIndexPtr(),
                                      csr.innerIndexPtr(), csr.valuePtr());
      fuzz::run_checked(map, B, dX, solver, default_solver);
    }
    fuzz::require(fuzz::same_matrix(csr, copy), "CSR A unchanged");
  } else {
    const auto csc = sparsegrad::to_csc(A);
    const auto copy = csc;
    fuzz::run_checked(csc, B, dX, solver, default_solver);
    fuzz::require(fuzz::same_matrix(csc, copy), "CSC A unchanged");
  }
}

template <class Scalar>
void run(fuzz::Bytes& in, std::uint8_t flags) {
  const int format = (flags >> 1) & 3;
  const bool vector_b = flags & 8;
  const bool default_solver = flags & 16;
  const bool broken_structure = (flags & 0xE0) == 0xE0;  // 1 in 8: break COO lengths or dims

  sparsegrad::CooMatrix<Scalar> A;
  A.rows = in.u8() % (kMaxDim + 1);
  A.cols = in.u8() % (kMaxDim + 1);
  const Eigen::Index k = vector_b ? 1 : in.u8() % 4;
  const int nnz = in.u8() % (kMaxEntries + 1);
  A.row.resize(nnz), A.col.resize(nnz), A.values.resize(nnz);
  for (int e = 0; e < nnz; ++e) {
    A.row[e] = in.index<int>(A.rows);
    A.col[e] = in.index<int>(A.cols);
    A.values[e] = in.value<Scalar>();
  }
  // B and dX have the right shapes unless a "shape" byte says otherwise.
  const std::uint8_t shape = in.u8();
  const Eigen::Index b_rows = (shape & 7) == 7 ? A.rows + 1 : A.rows;
  const Eigen::Index dx_rows = (shape & 56) == 56 ? A.cols + 1 : A.cols;
  if (broken_structure) {
    switch (in.u8() % 4) {
      case 0:
        A.row.conservativeResize(std::max(0, nnz - 1));
        break;
      case 1:
        A.values.conservativeResize(nnz + 1);
        A.values[nnz] = Scalar(1);
        break;
      case 2:
        A.rows = -A.rows - 1;
        break;
      default:
        A.cols = -1;
        break;
    }
  }
  if (vector_b) {
    const auto B = decode_dense<Vector<Scalar>>(in, b_rows, 1);
    const auto dX = decode_dense<Vector<Scalar>>(in, std::max<Eigen::Index>(dx_rows, 0), 1);
    run_formats(in, A, B, dX, format, default_solver);
  } else {
    const auto B = decode_dense<Matrix<Scalar>>(in, b_rows, k);
    const Eigen::Index dx_cols = (shape & 64) ? k + 1 : k;
    const auto dX = decode_dense<Matrix<Scalar>>(in, std::max<Eigen::Index>(dx_rows, 0), dx_cols);
    run_formats(in, A, B, dX, format, default_solver);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Bytes in(data, size);
  const std::uint8_t flags = in.u8();
  if (flags & 1)
    run<float>(in, flags);
  else
    run<double>(in, flags);
  return 0;
}
