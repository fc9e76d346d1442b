// Replays fuzzer inputs without libFuzzer, printing the decoded problem and what happened:
//   g++ -std=c++17 -g -DSPARSEGRAD_FUZZ_VERBOSE -Iinclude -I/usr/include/eigen3 \
//       -DFUZZ_TARGET='"fuzz/fuzz_lstsq.cpp"' fuzz/replay.cpp -o replay && ./replay crash-file
#include <fstream>
#include <iterator>
#include <vector>

#include FUZZ_TARGET

int main(int argc, char** argv) {
  for (int a = 1; a < argc; ++a) {
    std::ifstream in(argv[a], std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    std::cerr << "== " << argv[a] << " (" << bytes.size() << " bytes)\n";
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  return 0;
}
