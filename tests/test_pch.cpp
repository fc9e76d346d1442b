// Carrier of the precompiled header shared by the test programs (see tests/CMakeLists.txt).
