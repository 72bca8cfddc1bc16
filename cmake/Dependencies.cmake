# Every dependency comes from a Debian 12 package (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(fmt 9 REQUIRED)
find_package(CLI11 2.1 REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(GTest 1.12 REQUIRED)
find_package(benchmark REQUIRED)
find_package(ICU REQUIRED COMPONENTS uc i18n)

# Debian ships no SystemCLanguageConfig.cmake; pkg-config is the supported route (stack.md A1).
find_package(PkgConfig REQUIRED)
pkg_check_modules(SystemC REQUIRED IMPORTED_TARGET systemc>=2.3.4)
# The library exports only the C++17 API-version symbol; pin it for any TU that includes SystemC.
set_property(TARGET PkgConfig::SystemC APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS SC_CPLUSPLUS=201703L)

# NIR graphs are HDF5 (libhdf5-dev). CMake's FindHDF5 needs the C language enabled; Debian's
# pkg-config file needs nothing.
pkg_check_modules(HDF5 REQUIRED IMPORTED_TARGET hdf5)

# Runs over MPI ranks (libopenmpi-dev; mpirun from openmpi-bin). The C API is all we use, and
# pkg-config finds it without enabling the C language for FindMPI.
pkg_check_modules(MPI REQUIRED IMPORTED_TARGET mpi-c)

find_package(verilator 5.0 REQUIRED)   # /usr/share/verilator/verilator-config.cmake

if(TARGET yaml-cpp::yaml-cpp)
  set(SPIKETILE_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(SPIKETILE_YAML_TARGET yaml-cpp)
endif()
