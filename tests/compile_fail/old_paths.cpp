// The include paths of version 0.1 still work (forwarding headers, kept for one release).
#include <sparsegrad/craig.hpp>
#include <sparsegrad/direct.hpp>
#include <sparsegrad/eigen_lscg.hpp>
#include <sparsegrad/lsmr.hpp>

int main() {
  sparsegrad::Lsmr<double> lsmr;
  sparsegrad::SparseQR<double> qr;
  (void)lsmr;
  (void)qr;
  return 0;
}
