# Finds SuiteSparse's SPQR and CHOLMOD for sparsegrad's suitesparse component and defines the
# imported target SparsegradSuiteSparse::SuiteSparse (headers and the spqr, cholmod and
# suitesparseconfig libraries). Debian's libsuitesparse-dev puts the headers in
# include/suitesparse. Used by sparsegrad's build and by its installed package.
find_path(SparsegradSuiteSparse_INCLUDE_DIR SuiteSparseQR.hpp PATH_SUFFIXES suitesparse)
find_library(SparsegradSuiteSparse_SPQR_LIBRARY spqr)
find_library(SparsegradSuiteSparse_CHOLMOD_LIBRARY cholmod)
find_library(SparsegradSuiteSparse_CONFIG_LIBRARY suitesparseconfig)
mark_as_advanced(SparsegradSuiteSparse_INCLUDE_DIR SparsegradSuiteSparse_SPQR_LIBRARY
                 SparsegradSuiteSparse_CHOLMOD_LIBRARY SparsegradSuiteSparse_CONFIG_LIBRARY)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SparsegradSuiteSparse
  REQUIRED_VARS SparsegradSuiteSparse_SPQR_LIBRARY SparsegradSuiteSparse_CHOLMOD_LIBRARY
                SparsegradSuiteSparse_CONFIG_LIBRARY SparsegradSuiteSparse_INCLUDE_DIR)

if(SparsegradSuiteSparse_FOUND AND NOT TARGET SparsegradSuiteSparse::SuiteSparse)
  add_library(SparsegradSuiteSparse::SuiteSparse INTERFACE IMPORTED)
  set_target_properties(SparsegradSuiteSparse::SuiteSparse PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${SparsegradSuiteSparse_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${SparsegradSuiteSparse_SPQR_LIBRARY};${SparsegradSuiteSparse_CHOLMOD_LIBRARY};${SparsegradSuiteSparse_CONFIG_LIBRARY}")
endif()
