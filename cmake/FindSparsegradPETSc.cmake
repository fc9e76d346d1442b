# Finds PETSc (pkg-config module PETSc or petsc: Debian's petsc-dev) and MPI for sparsegrad's
# petsc component and defines the imported target SparsegradPETSc::PETSc. Used by sparsegrad's
# build and by its installed package.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_search_module(SPARSEGRAD_PETSC QUIET IMPORTED_TARGET PETSc petsc)
endif()
find_package(MPI COMPONENTS CXX QUIET)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SparsegradPETSc
  REQUIRED_VARS SPARSEGRAD_PETSC_FOUND MPI_CXX_FOUND
  VERSION_VAR SPARSEGRAD_PETSC_VERSION
  REASON_FAILURE_MESSAGE "needs PETSc through pkg-config (PETSc or petsc) and MPI for C++")

if(SparsegradPETSc_FOUND AND NOT TARGET SparsegradPETSc::PETSc)
  add_library(SparsegradPETSc::PETSc INTERFACE IMPORTED)
  target_link_libraries(SparsegradPETSc::PETSc INTERFACE PkgConfig::SPARSEGRAD_PETSC MPI::MPI_CXX)
endif()
