// libsystemc defines main() and calls sc_main; gtest runs from here. Each TEST elaborates its own
// design, so ctest runs every TEST in a separate process (see CMakeLists.txt).
#include <gtest/gtest.h>

#include <systemc>

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
